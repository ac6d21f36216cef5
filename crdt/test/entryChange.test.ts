/**
 * entryChange.ts: a TillLog change read without a document. The walk is held to Automerge's
 * own decodeChange, the definition: on every change TillLog writes (the walk must take them
 * all: HQ's intake runs on it), and on random and mutated ones (whatever the walk takes,
 * Automerge reads the same way). checkEntryChange refuses what no honest till writes.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import * as A from '@automerge/automerge'
import { MalformedError, openEntry, toHex, type TillId } from '@tillbooks/protocol'
import {
  ENTRIES_OBJ_COUNTER, TillLog, actorBytesFrom, actorFrom, changeHashOf, genesisActorBytesOf, tillActorBytesOf, tillActorOf, checkEntryChange, checkEntryChangeAt, checksumHolds, entryChangeLayout, genesisActorOf, isAutomergeChunk,
  keyOfBytes, readEntryChange
} from '../src/index.ts'
import { OTHER_TILL_ID, TILL_ID, TillWriter, enrolment, keyForOf, otherTillKey, tillKey, withBadSignature } from './helpers/fixtures.ts'

const FC_SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31)
const keyFor = keyForOf(enrolment())

interface Raw { entries: Record<string, Uint8Array> }

const openEntryOf = (b: Uint8Array): ReturnType<typeof openEntry> => openEntry(b, { verify: false })

/** A till's log of `n` entries and the change that put each. */
function written (n: number): { log: TillLog, changes: Uint8Array[], w: TillWriter } {
  const w = new TillWriter()
  // Under the actor a till writes its own log with (its key's): HQ holds a change to it.
  const log = TillLog.create(TILL_ID, { actorId: tillActorOf(TILL_ID, tillKey.publicKey), keyFor })
  const changes: Uint8Array[] = []
  for (let i = 0; i < n; i++) {
    log.append(w.next())
    changes.push(log.lastLocalChange() as Uint8Array)
  }
  return { log, changes, w }
}

/** What Automerge reads in a one-put change, in readEntryChange's terms. */
function byAutomerge (change: Uint8Array): { key: string, obj: string, actor: string, entry: string, hash: string } {
  const d = A.decodeChange(change)
  assert.equal(d.ops.length, 1)
  const op = d.ops[0] as unknown as { action: string, key: string, obj: string, value: number[], datatype?: string, pred: unknown[] }
  // A bytes value decodes as an array of numbers with no datatype.
  assert.deepEqual([op.action, op.datatype, Array.isArray(op.value), op.pred.length], ['set', undefined, true, 0])
  return { key: op.key, obj: op.obj, actor: d.actor, entry: toHex(Uint8Array.from(op.value)), hash: d.hash }
}

function byWalk (change: Uint8Array): { key: string, obj: string, actor: string, entry: string, hash: string } {
  const c = readEntryChange(change)
  return { key: c.key, obj: c.obj, actor: c.actor, entry: toHex(c.entry), hash: toHex(c.hash) }
}

/** The checksum Automerge checks, made right again after a mutation of the body. */
function resealed (change: Uint8Array): Uint8Array {
  const out = new Uint8Array(change)
  out.set(changeHashOf(out).subarray(0, 4), 4)
  return out
}

describe(`entryChange: one entry's change read without a document (FC_SEED=${FC_SEED})`, () => {
  it('the walk reads every change TillLog writes exactly as Automerge does, the entry a view into the change', () => {
    const { log, changes } = written(40)
    for (const change of changes) {
      assert.ok(isAutomergeChunk(change))
      assert.notEqual(entryChangeLayout(change), null, 'an honest change is taken by the walk, not the slow path')
      assert.deepEqual(byWalk(change), byAutomerge(change))
      const c = readEntryChange(change)
      assert.equal(c.entry.buffer, change.buffer, 'the envelope is read in place')
      assert.equal(c.entryStart, c.entry.byteOffset - change.byteOffset)
    }
    // And the changes a log finds by key are these very changes.
    const keys = changes.map(c => readEntryChange(c).key)
    const found = log.changesOf(keys)
    assert.equal(found.size, keys.length)
    keys.forEach((k, i) => { assert.deepEqual(found.get(k), changes[i]) })
    log.free()
  })

  it('actors are the first half of SHA-256(tag prefix ‖ parts joined by NUL), as first defined, for any text (built in a scratch buffer, hashed by libsodium)', () => {
    const reference = (tag: string, ...parts: string[]): string => {
      const enc = new TextEncoder()
      return createHash('sha256').update(enc.encode(`tillbooks/tilllog/${tag}/v1\u0000`)).update(enc.encode(parts.join('\u0000'))).digest('hex').slice(0, 32)
    }
    fc.assert(fc.property(fc.string({ maxLength: 30 }), fc.array(fc.string({ unit: 'binary', maxLength: 400 }), { maxLength: 4 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (tag, parts, key) => {
      assert.equal(actorFrom(tag, ...parts), reference(tag, ...parts))
      const till = (parts[0] ?? 'S001-1') as TillId
      assert.equal(tillActorOf(till, key), reference('actor', till, `till:${toHex(key).slice(0, 32)}`))
      assert.equal(toHex(tillActorBytesOf(till, key)), tillActorOf(till, key))
      assert.equal(toHex(genesisActorBytesOf(till)), reference('genesis', till))
    }), { seed: FC_SEED, numRuns: 500 })
    // Each answer is its own: the next one does not write over it.
    const first = actorBytesFrom('actor', 'S001-1')
    const copy = Uint8Array.from(first)
    actorBytesFrom('actor', 'S002-1')
    assert.deepEqual(first, copy)
  })

  it('the entries map is the genesis change\'s third op, named from the till id alone', () => {
    const log = TillLog.create(TILL_ID)
    const raw = A.load<Raw>(log.save())
    assert.equal(A.getObjectId(raw, 'entries'), `${ENTRIES_OBJ_COUNTER}@${genesisActorOf(TILL_ID)}`)
    log.free()
  })

  it('checkEntryChange takes an honest change for its own entry, and only for it', () => {
    const { changes, w } = written(3)
    const first = readEntryChange(changes[0] as Uint8Array)
    const e1 = new TillWriter().next()
    assert.equal(checkEntryChange(first, { tillId: TILL_ID, seq: 1, hash: e1.hash, signer: tillKey.publicKey }), null)
    // Another entry's seq or hash: the key does not fit.
    assert.match(checkEntryChange(first, { tillId: TILL_ID, seq: 2, hash: e1.hash, signer: tillKey.publicKey }) ?? '', /key its bytes do not give/)
    const e2 = w.peek()
    assert.match(checkEntryChange(first, { tillId: TILL_ID, seq: 1, hash: e2.hash, signer: tillKey.publicKey }) ?? '', /key its bytes do not give/)
    // Claimed for another till: not that till's entries map.
    assert.match(checkEntryChange(first, { tillId: OTHER_TILL_ID, seq: 1, hash: e1.hash, signer: tillKey.publicKey }) ?? '', /not S1-2's entries map/)
    // The in-place check HQ's threads run says the same, every way.
    const change = changes[0] as Uint8Array
    const layout = entryChangeLayout(change)
    assert.ok(layout !== null && checksumHolds(change))
    for (const [tillId, seq, hash, signer] of [[TILL_ID, 1, e1.hash, tillKey], [TILL_ID, 2, e1.hash, tillKey], [TILL_ID, 1, e2.hash, tillKey], [OTHER_TILL_ID, 1, e1.hash, tillKey], [TILL_ID, 1_000_000_000_001, e1.hash, tillKey], [TILL_ID, 1, e1.hash, otherTillKey]] as const) {
      const slow = checkEntryChange(first, { tillId, seq, hash, signer: signer.publicKey })
      const fast = checkEntryChangeAt(change, layout, { tillId, seq, hash: Uint8Array.from(Buffer.from(hash, 'hex')), signer: signer.publicKey })
      assert.equal(fast === null, slow === null, `${tillId} ${seq}: ${fast} / ${slow}`)
    }
  })

  it('refuses, with a reason, changes no honest till writes: two ops, a delete, another key, the genesis actor, garbage', () => {
    const { log, w } = written(2)
    const base = log.save()
    const e3 = w.next()
    const k3 = keyOfBytes(e3.bytes).key
    const e4 = w.next()
    const k4 = keyOfBytes(e4.bytes).key
    const two = A.change(A.load<Raw>(base, { actor: 'aa'.repeat(16) }), { time: 0 }, d => { d.entries[k3] = e3.bytes; d.entries[k4] = e4.bytes })
    assert.throws(() => readEntryChange(A.getLastLocalChange(two) as Uint8Array), (e: Error) => e instanceof MalformedError && /2 ops/.test(e.message))
    const del = A.change(A.load<Raw>(base, { actor: 'ab'.repeat(16) }), { time: 0 }, d => { delete d.entries[Object.keys(d.entries)[0] as string] })
    assert.throws(() => readEntryChange(A.getLastLocalChange(del) as Uint8Array), (e: Error) => e instanceof MalformedError && /del/.test(e.message))
    // The right bytes under another key: read, then refused by checkEntryChange.
    const moved = A.change(A.load<Raw>(base, { actor: 'ac'.repeat(16) }), { time: 0 }, d => { d.entries[k4] = e3.bytes })
    const c = readEntryChange(A.getLastLocalChange(moved) as Uint8Array)
    assert.match(checkEntryChange(c, { tillId: TILL_ID, seq: 3, hash: e3.hash, signer: tillKey.publicKey }) ?? '', /key its bytes do not give/)
    // Under the genesis actor (which only the genesis change may use).
    const g = A.change(A.load<Raw>(base, { actor: genesisActorOf(TILL_ID) }), { time: 0 }, d => { d.entries[k3] = e3.bytes })
    const gc = readEntryChange(A.getLastLocalChange(g) as Uint8Array)
    assert.match(checkEntryChange(gc, { tillId: TILL_ID, seq: 3, hash: e3.hash, signer: tillKey.publicKey }) ?? '', /genesis actor/)
    // Into another till's map.
    const other = TillLog.create(OTHER_TILL_ID)
    const o = A.change(A.load<Raw>(other.save(), { actor: 'ad'.repeat(16) }), { time: 0 }, d => { d.entries[k3] = e3.bytes })
    const oc = readEntryChange(A.getLastLocalChange(o) as Uint8Array)
    assert.match(checkEntryChange(oc, { tillId: TILL_ID, seq: 3, hash: e3.hash, signer: tillKey.publicKey }) ?? '', /not S1-1's entries map/)
    // A forged envelope is read like any (the signature is the opener's to judge).
    const forged = A.change(A.load<Raw>(base, { actor: 'ae'.repeat(16) }), { time: 0 }, d => { d.entries[keyOfBytes(withBadSignature(e3).bytes).key] = withBadSignature(e3).bytes })
    assert.deepEqual(readEntryChange(A.getLastLocalChange(forged) as Uint8Array).entry, withBadSignature(e3).bytes)
    // Not a chunk, a bad checksum, a document instead of a change.
    assert.throws(() => readEntryChange(e3.bytes), /not an Automerge chunk/)
    const honest = log.lastLocalChange() as Uint8Array
    const flipped = new Uint8Array(honest)
    flipped[flipped.length - 5] = (flipped[flipped.length - 5] as number) ^ 1
    assert.throws(() => readEntryChange(flipped), (e: Error) => e instanceof MalformedError && /checksum/.test(e.message))
    assert.throws(() => readEntryChange(base), MalformedError)
    for (const doc of [log, other]) doc.free()
  })

  it('whatever the walk takes of a mutated change, Automerge reads the same way (property)', () => {
    const { changes, log } = written(6)
    const entries = log.entryBytes().map(openEntryOf)
    fc.assert(fc.property(
      fc.integer({ min: 0, max: changes.length - 1 }),
      // Most edits in the header, the column metadata and the key (the first ~200 bytes), where the walk decides.
      fc.array(fc.record({ at: fc.nat(), head: fc.boolean(), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 4 }),
      (which, edits) => {
        const mutated = new Uint8Array(changes[which] as Uint8Array)
        // Mutate the body (past the chunk header), then make the checksum right again, so that
        // Automerge judges the content rather than stopping at the checksum.
        for (const { at, head, byte } of edits) mutated[12 + (at % (head ? 200 : mutated.length - 12))] = byte
        const change = resealed(mutated)
        if (entryChangeLayout(change) === null) return
        let d: ReturnType<typeof byAutomerge>
        try {
          d = byAutomerge(change)
        } catch (err) {
          assert.fail(`the walk took a change Automerge does not read as one put: ${(err as Error).message}`)
        }
        assert.deepEqual(byWalk(change), d)
        // And the in-place check agrees with the one on strings, for the entry the change carries or not.
        const c = readEntryChange(change)
        const layout = entryChangeLayout(change) as NonNullable<ReturnType<typeof entryChangeLayout>>
        for (const seq of [1, 2, 3, 4, 5, 6]) {
          for (const e of entries) {
            assert.equal(checkEntryChangeAt(change, layout, { tillId: TILL_ID, seq, hash: e.hashBytes, signer: e.signer }) === null, checkEntryChange(c, { tillId: TILL_ID, seq, hash: e.hash, signer: e.signer }) === null)
          }
        }
      }), { seed: FC_SEED, numRuns: 2_000 })
  })
})
