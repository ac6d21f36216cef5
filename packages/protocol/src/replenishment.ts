/**
 * A replenishment order: HQ-signed, it tells a store what the warehouse shipped for a
 * business day. The till's StockIn copies the shipped lines and states what was received.
 */
import { canonicalEncode, bytesEqual } from './canonical.ts'
import { LINES_MAX } from './constants.ts'
import { ForgedError, InvalidRecordError } from './errors.ts'
import { seal } from './envelope.ts'
import { openSealed } from './trusted.ts'
import { asBusinessDay, asStoreId, type BusinessDay, type StoreId } from './ids.ts'
import type { PublicKey, Signer } from './keys.ts'
import type { SkuQty } from './records.ts'
import { arr, ID_RE, int, obj, SKU_RE, sortedUnique, str } from './validate.ts'

export interface Replenishment {
  v: 1
  kind: 'replenishment'
  id: string
  store: StoreId
  businessDay: BusinessDay
  lines: SkuQty[]
}

export function signReplenishment (root: Signer, r: Omit<Replenishment, 'v' | 'kind'>): Uint8Array {
  const value = { v: 1, kind: 'replenishment', id: r.id, store: r.store, businessDay: r.businessDay, lines: r.lines.map(l => ({ sku: l.sku, qty: l.qty })) }
  openReplenishmentValue(value)
  return seal('replenishment', canonicalEncode(value), root)
}

function openReplenishmentValue (value: unknown): Replenishment {
  const o = obj(value as never, 'replenishment', ['v', 'kind', 'id', 'store', 'businessDay', 'lines'])
  if (o.v !== 1) throw new InvalidRecordError('unsupported replenishment version')
  const lines = sortedUnique(arr(o.lines, 'lines', LINES_MAX).map((l, i) => {
    const x = obj(l, `lines[${i}]`, ['sku', 'qty'])
    return { sku: str(x.sku, `lines[${i}].sku`, SKU_RE), qty: int(x.qty, `lines[${i}].qty`, 1, 1e9) }
  }), l => l.sku, 'lines')
  return { v: 1, kind: 'replenishment', id: str(o.id, 'id', ID_RE), store: asStoreId(o.store), businessDay: asBusinessDay(o.businessDay), lines }
}

/**
 * Check an order is signed by `rootKey` and well-formed. `verify: false`: its signature was
 * checked before; `checked: true` also reads the CBOR without re-checking that it is
 * canonical (bytes that passed `openReplenishment` before: HQ's own fsync'd log). The
 * fields are validated in every case.
 */
export function openReplenishment (bytes: Uint8Array, rootKey: PublicKey, opts: { verify: boolean, checked?: boolean } = { verify: true }): Replenishment {
  const { kind, signer, value } = openSealed(bytes, opts)
  if (kind !== 'replenishment') throw new InvalidRecordError('not a replenishment order')
  if (!bytesEqual(signer, rootKey)) throw new ForgedError('replenishment not signed by the HQ root key')
  return openReplenishmentValue(value)
}
