/** A receipt refused, with why (tampered, not signed by an enrolled till, malformed): nothing taken in. */
export class WalletError extends Error {
  override name = 'WalletError'
}
