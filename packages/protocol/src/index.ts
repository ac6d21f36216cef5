/**
 * @tillbooks/protocol: what travels between tills, stores and HQ.
 *
 * @example
 * ```ts
 * const root = new Signer(keyPairFromSeed(rootSeed))
 * const till = new Signer(keyPairFromSeed(tillSeed))
 * const enrolment = new Enrolment(root.publicKey)
 * enrolment.add(issueCertificate(root, { store, till: 1, tillKey: till.publicKey, fromSeq: 1, issuedAtMs: 0 }).bytes)
 * const entry = signEntry(close, till)           // canonical CBOR, signed, hash-chained
 * const opened = openEntry(entry.bytes)          // verifies, validates; throws with a reason
 * enrolment.check(opened.tillId, opened.record.seq, opened.signer)
 * ```
 */
export * from './acceptFast.ts'
export * from './approval.ts'
export * from './paymentSet.ts'
export * from './memberCard.ts'
export * from './canonical.ts'
export * from './catalogueStatement.ts'
export * from './certificate.ts'
export * from './constants.ts'
export * from './entry.ts'
export * from './envelope.ts'
export * from './errors.ts'
export * from './ids.ts'
export * from './keys.ts'
export * from './openFast.ts'
export * from './records.ts'
export * from './replenishment.ts'
export * from './rightsGrant.ts'
export * from './trusted.ts'
export * from './validate.ts'
