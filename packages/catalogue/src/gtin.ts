/**
 * GTINs (the barcodes of GS1: EAN-8, UPC-A, EAN-13, GTIN-14), checked by their check digit,
 * so that a mistyped code is refused where it is typed, not found at a till that scans nothing.
 */

/** Whether `gtin` is a GTIN-8, -12, -13 or -14 (digits only) whose last digit is its check digit (GS1 mod 10). */
export function isGtin (gtin: string): boolean {
  if (!/^(\d{8}|\d{12,14})$/.test(gtin)) return false
  let sum = 0
  // From the right, the digits before the check digit weigh 3, 1, 3, 1, ...
  for (let i = gtin.length - 2, w = 3; i >= 0; i--, w = 4 - w) sum += (gtin.charCodeAt(i) - 48) * w
  return (10 - (sum % 10)) % 10 === gtin.charCodeAt(gtin.length - 1) - 48
}
