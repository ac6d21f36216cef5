/**
 * The worker path (decode + validate + verify on threads, records rebuilt from the checked
 * bytes on the main thread) must answer exactly as the inline path does, entry by entry,
 * and HQ's acceptance must not depend on which one it runs.
 */
import assert from 'node:assert/strict'
import {
  canonicalDecode, canonicalEncode, GENESIS_HASH, CheckedEntry, checkedEntry, checkedRecord, decodeChecked, envelopeLayout, keyPairFromSeed, openEntry, signEntry, Signer, verifySignature,
  type Close, type Entry, type PublicKey
} from '@tillbooks/protocol'
import { HqNode, InlineVerifier, MemoryStore, silentLogger, WorkerVerifier, type Verifier } from '../src/index.ts'
import { checkLoggedVia, type LoggedCheck, type Opened, type VerifyItem } from '../src/verify/Verifier.ts'
import { catalogue, DAY1, DAY2, ManualClock, root, seedBytes, startTill } from './helpers/fleet.ts'

async function hqWith (verifier: Verifier): Promise<HqNode> {
  const hq = new HqNode({ store: new MemoryStore(), clock: new ManualClock(), logger: silentLogger }, { root, costCents: sku => catalogue.costCents(sku), verifier })
  await hq.start()
  return hq
}

/** A till with two days of varied trade: refunds, loyalty points, both tenders, deliveries. */
async function tradedTill (hq: HqNode, till = 1): Promise<{ entries: readonly Entry[], signer: Signer }> {
  const t = await startTill(hq, { till })
  for (const day of [DAY1, DAY2]) {
    const order = await hq.dispatchReplenishment({ id: `R-${till}-${day}`, store: t.storeId, businessDay: day, lines: [{ sku: 'patio-chair', qty: 4 }, { sku: 'beans-g', qty: 500 }] })
    await t.till.openDay(day, { order })
    await t.till.sell({ lines: [{ sku: 'patio-set', qty: 1 }], tenders: [{ type: 'card', amountCents: 50_000 }], member: '+441234567890' })
    await t.till.sell({ lines: [{ sku: 'cappuccino', qty: 2 }, { sku: 'latte', qty: 1 }], member: '+447000000001' })
    await t.till.refund({ lines: [{ sku: 'latte', qty: 1 }] })
    await t.till.closeDay()
  }
  return { entries: t.till.log, signer: t.signer }
}

/** A traded till's envelopes, and its second with one bit of the signature flipped. */
async function tradedEnvelopes (): Promise<{ entries: readonly Entry[], good: Uint8Array[], flipped: Uint8Array }> {
  const hq = await hqWith(new InlineVerifier())
  const { entries } = await tradedTill(hq)
  const good = entries.map(e => e.bytes)
  const fields = canonicalDecode(good[1] as Uint8Array) as { sig: Uint8Array }
  fields.sig[3] = (fields.sig[3] as number) ^ 0x01
  return { entries, good, flipped: canonicalEncode(fields as never) }
}

/** Opened results as plain data, to compare the two paths. */
function plain (o: Opened[]): unknown[] {
  return o.map(x => x.rejection !== undefined
    ? { rejection: x.rejection }
    : { signature: x.signature, hash: x.entry.hash, tillId: x.entry.tillId, record: x.entry.record, bytes: [...x.entry.bytes], body: [...x.entry.body], sig: [...x.entry.sig], signer: [...x.entry.signer], hashBytes: [...x.entry.hashBytes] })
}

describe('verify worker path', function () {
  this.timeout(30_000)
  let workers: WorkerVerifier
  before(() => { workers = new WorkerVerifier({ threads: 2 }) })
  after(async () => { await workers.close() })

  it('rebuilds from checked bytes exactly the record, fields and hash that openEntry gives', async () => {
    const hq = await hqWith(new InlineVerifier())
    const { entries } = await tradedTill(hq)
    assert.ok(entries.length >= 4)
    for (const e of entries) {
      const opened = openEntry(e.bytes)
      const l = envelopeLayout(e.bytes)
      const body = e.bytes.subarray(l.bodyStart, l.bodyEnd)
      assert.deepEqual(body, opened.body)
      assert.deepEqual(e.bytes.subarray(l.signerStart, l.signerStart + 32), opened.signer)
      assert.deepEqual(e.bytes.subarray(l.sigStart, l.sigStart + 64), opened.sig)
      assert.deepEqual(checkedRecord(body), opened.record)
      // Same keys in the same order as validateRecord's output, nested too.
      assert.equal(JSON.stringify(checkedRecord(body)), JSON.stringify(opened.record))
      assert.deepEqual(decodeChecked(e.bytes), canonicalDecode(e.bytes))
      // The lazy entry: every field of openEntry's, the record decoded on first use.
      const checked = checkedEntry(e.bytes, opened.hashBytes)
      assert.ok(checked instanceof CheckedEntry)
      for (const field of ['bytes', 'hash', 'hashBytes', 'tillId', 'seq', 'signer', 'body', 'sig', 'record'] as const) {
        assert.deepEqual(checked[field], opened[field], field)
      }
      assert.equal(checked.seq, opened.record.seq)
      assert.equal(checked.record, checked.record, 'decoded once, then kept')
    }
  })

  it('reads back a Close with card totals, late declines and expiries (fields the fast reader does not know) as openEntry does, and HQ books it through the threads', async () => {
    const { signEntry: sign, paymentsDigest, paymentSetHash } = await import('@tillbooks/protocol')
    const approvals = [{ paymentId: 'S1-1-aaaaaaaa-P1', amountCents: 7900 }]
    const hq = await hqWith(workers)
    const signer = new Signer(keyPairFromSeed(new Uint8Array(32).fill(77)))
    await hq.enrol({ store: 'S1' as never, till: 1, tillKey: signer.publicKey })
    const e = sign({
      v: 1, kind: 'close', store: 'S1' as never, till: 1, businessDay: '2026-03-02' as never, seq: 1, prevHash: GENESIS_HASH, atMs: 1,
      docFirst: 1, docLast: 1, saleCount: 1, refundCount: 0, takingsCents: { cash: 0, card: 7900 }, tax: [{ rateBp: 0, netCents: 7900, taxCents: 0 }],
      refundsCents: 0, cashCountedCents: 0, consumed: [], points: [],
      payments: [{ processor: 'embedded', type: 'card', mode: 'online', count: 1, amountCents: 7900, digest: paymentsDigest(approvals), setHash: paymentSetHash(approvals) }],
      lateDeclines: [{ paymentId: 'S1-1-aaaaaaaa-P0', processor: 'embedded', amountCents: 100, saleDay: '2026-03-01' as never }]
    }, signer)
    const opened = openEntry(e.bytes)
    const l = envelopeLayout(e.bytes)
    assert.deepEqual(checkedRecord(e.bytes.subarray(l.bodyStart, l.bodyEnd)), opened.record)
    const [outcome] = await hq.submit([e.bytes])
    assert.equal(outcome?.status, 'accepted', JSON.stringify(outcome))
    assert.equal(hq.books.snapshot().counts.folded, 1)
  })

  it('under load, calls from later turns share the jobs of a busy thread, and every envelope is answered as inline', async () => {
    const hq = await hqWith(new InlineVerifier())
    const { entries } = await tradedTill(hq)
    const good = entries.map(e => e.bytes)
    const pool = new WorkerVerifier({ threads: 2 })
    try {
      const calls: Array<Promise<Awaited<ReturnType<WorkerVerifier['open']>>>> = []
      for (let i = 0; i < 60; i++) {
        // Each call alone, a turn of the event loop apart, as submits arrive from sockets.
        calls.push(pool.open(Array.from({ length: 6 }, (_, k) => good[(i + k) % good.length] as Uint8Array), Array.from({ length: 6 }, () => true)))
        await new Promise(resolve => setImmediate(resolve))
      }
      const answers = await Promise.all(calls)
      answers.forEach((opened, i) => {
        opened.forEach((o, k) => {
          assert.equal(o.signature, true)
          assert.equal(o.entry?.hash, (entries[(i + k) % good.length] as Entry).hash)
        })
      })
      // Without sharing, 60 calls would be 60 jobs (one message each way).
      assert.ok(pool.jobsSent < 40, `${pool.jobsSent} jobs for 60 calls`)
    } finally {
      await pool.close()
    }
  })

  it('answers envelope by envelope as the inline path does: good, forged, malformed, oversized, not bytes, unchecked', async () => {
    const { entries, good, flipped } = await tradedEnvelopes()
    const attacker = new Signer(keyPairFromSeed(seedBytes('attacker')))
    const byStranger = signEntry({ ...(entries[1] as Entry).record }, attacker).bytes
    const truncated = (good[0] as Uint8Array).subarray(0, 150)
    const notCanonical = new Uint8Array([...(good[0] as Uint8Array), 0])
    const oversized = canonicalEncode({ v: 1, kind: 'close', body: new Uint8Array(70_000), signer: new Uint8Array(32), sig: new Uint8Array(64) })
    const badRecord = canonicalEncode({ ...(canonicalDecode(good[0] as Uint8Array) as object), body: canonicalEncode({ kind: 'stockIn', v: 1 }) } as never)
    const batch = [...good, flipped, byStranger, truncated, notCanonical, oversized, new Uint8Array([1, 2, 3]), 'nope' as never, badRecord, ...good]
    const check = batch.map((_, i) => i !== 0)
    const inline = await new InlineVerifier().open(batch, check)
    const threaded = await workers.open(batch, check)
    assert.deepEqual(plain(threaded), plain(inline))
    const k = good.length
    assert.equal(threaded[0]?.signature, null, 'not checked when not asked')
    assert.equal(threaded[1]?.signature, true)
    assert.equal(threaded[k]?.signature, false, 'flipped signature')
    assert.equal(threaded[k + 1]?.signature, true, 'signed by a stranger with its own key: that verifies; enrolment is HQ\'s check')
    assert.deepEqual(threaded.slice(k + 2, k + 8).map(o => o.rejection?.code), ['MALFORMED', 'MALFORMED', 'OVERSIZED', 'MALFORMED', 'MALFORMED', 'INVALID'])
  })

  it('checkLogged (a re-verifying rebuild\'s check): the same verdicts and hashes on the threads as inline, with a reason for each refusal', async () => {
    const { entries, good, flipped } = await tradedEnvelopes()
    const truncated = (good[0] as Uint8Array).subarray(0, 150)
    const batch = [...good, flipped, truncated, new Uint8Array([1, 2, 3]), ...good]
    const verdicts = (c: LoggedCheck): Array<true | string> => batch.map((_, i) => c.ok(i))
    const inline = await checkLoggedVia(new InlineVerifier(), batch)
    const threaded = await checkLoggedVia(workers, batch)
    assert.ok(workers.checkLogged !== undefined, 'the threads answer it themselves')
    const k = good.length
    assert.deepEqual(verdicts(threaded).slice(0, k), good.map(() => true))
    assert.equal(threaded.ok(k), 'its signature fails')
    assert.match(String(threaded.ok(k + 1)), /.+/)
    assert.match(String(threaded.ok(k + 2)), /not an entry's size/)
    assert.deepEqual(verdicts(inline).map(v => v === true), verdicts(threaded).map(v => v === true))
    assert.deepEqual([...threaded.hashes.subarray(0, k * 32)], entries.flatMap(e => [...e.hashBytes]), 'each entry\'s hash')
    assert.deepEqual([...threaded.hashes.subarray(0, k * 32)], [...inline.hashes.subarray(0, k * 32)])
    assert.deepEqual([...threaded.hashes.subarray((k + 3) * 32)], [...inline.hashes.subarray((k + 3) * 32)])
  })

  it('coalesces concurrent calls and routes each to its answers', async () => {
    const hq = await hqWith(new InlineVerifier())
    const a = (await tradedTill(hq, 1)).entries.map(e => e.bytes)
    const b = (await tradedTill(hq, 2)).entries.map(e => e.bytes)
    const [ra, rb, rab] = await Promise.all([workers.open(a, a.map(() => true)), workers.open(b, b.map(() => true)), workers.open([...b, ...a], [...b, ...a].map(() => true))])
    assert.deepEqual(plain(rab ?? []), [...plain(rb ?? []), ...plain(ra ?? [])])
    assert.ok([...(ra ?? []), ...(rb ?? [])].every(o => o.signature === true))
  })

  it('HQ gives the same outcomes, rejections with reasons and books with workers as inline', async () => {
    const run = async (verifier: Verifier): Promise<{ outcomes: unknown[], books: unknown, counters: unknown }> => {
      const hq = await hqWith(verifier)
      const { entries, signer } = await tradedTill(hq)
      const [first, second, third, fourth] = entries as [Entry, Entry, Entry, Entry]
      const attacker = new Signer(keyPairFromSeed(seedBytes('attacker')))
      const unenrolled = signEntry({ ...second.record, store: 'S999' } as never, attacker).bytes
      const wrongKey = signEntry({ ...third.record }, attacker).bytes
      const fields = canonicalDecode(fourth.bytes) as { sig: Uint8Array }
      fields.sig[7] = (fields.sig[7] as number) ^ 0x80
      const forged = canonicalEncode(fields as never)
      const r = second.record as Close
      const twin = signEntry({ ...r, takingsCents: { ...r.takingsCents, cash: r.takingsCents.cash - 100 }, tax: r.tax.map((l, i) => i === 0 ? { ...l, netCents: l.netCents - 100 } : l) }, signer).bytes
      const outcomes: unknown[] = []
      outcomes.push(...await hq.submit([second.bytes, first.bytes, first.bytes, unenrolled, wrongKey, forged, new Uint8Array([9]), second.bytes]))
      outcomes.push(...await hq.submit([first.bytes, second.bytes, third.bytes]))
      outcomes.push(...await hq.submit([twin, fourth.bytes, fourth.bytes]))
      const counters = { ...hq.counters, rejections: hq.rejections.map(x => ({ ...x, atMs: 0 })) }
      const books = hq.books.snapshot()
      await hq.stop()
      return { outcomes, books, counters }
    }
    const inline = await run(new InlineVerifier())
    const threaded = await run(new WorkerVerifier({ threads: 2 }))
    assert.deepEqual(threaded, inline)
    const codes = (inline.outcomes as Array<{ status: string, code?: string }>).map(o => o.code ?? o.status)
    // As the inline HQ always answered (checked against the HQ before the worker path: the
    // same outcomes, counters and books; only the order of one batch's rejection log differed).
    assert.deepEqual(codes, ['accepted', 'accepted', 'duplicate', 'UNENROLLED', 'UNENROLLED', 'FORGED', 'MALFORMED', 'duplicate', 'duplicate', 'duplicate', 'accepted', 'FORK', 'FORK', 'duplicate'])
  })

  it('logs exactly the bytes it verified, even if the caller reuses its buffer at once', async () => {
    const verifier = new WorkerVerifier({ threads: 2 })
    const hq = await hqWith(verifier)
    try {
      const { entries } = await tradedTill(hq)
      const original = (entries[0] as Entry).bytes
      const buffer = new Uint8Array(original)
      const answer = hq.submit([buffer])
      buffer.fill(0) // reused for the next network read, say
      assert.equal((await answer)[0]?.status, 'accepted')
      const logged = await hq.tillLog((entries[0] as Entry).tillId)
      assert.deepEqual(logged, [original])
    } finally {
      await hq.stop()
    }
  })

  it('verifies records of many tills interleaved on one thread, with no key prepared ahead', async () => {
    const hq = await hqWith(new InlineVerifier())
    const a = (await tradedTill(hq, 1)).entries.map(e => e.bytes)
    const b = (await tradedTill(hq, 2)).entries.map(e => e.bytes)
    const one = new WorkerVerifier({ threads: 1 })
    try {
      const mixed = [a[0], b[0], a[1], b[1], a[2], b[2]] as Uint8Array[]
      const out = await one.open(mixed, mixed.map(() => true))
      assert.deepEqual(out.map(o => o.signature), mixed.map(() => true))
      // b's signature on a's body: the right key, the wrong signature.
      const swapped = new Uint8Array(a[0] as Uint8Array)
      const other = b[0] as Uint8Array
      const at = envelopeLayout(swapped).sigStart
      const from = envelopeLayout(other).sigStart
      swapped.set(other.subarray(from, from + 64), at)
      const [forged] = await one.open([swapped], [true])
      assert.equal(forged?.signature, false, 'a signature from another till is refused')
    } finally {
      await one.close()
    }
  })

  it('verify (packed, one buffer a job): each signature answered as verifySignature answers it, whatever its size or its message\'s', async () => {
    const signer = new Signer(keyPairFromSeed(seedBytes('packed-verify-a')))
    const other = new Signer(keyPairFromSeed(seedBytes('packed-verify-b')))
    const items: VerifyItem[] = []
    for (let i = 0; i < 300; i++) {
      const message = new Uint8Array(i % 7 === 0 ? 0 : (i * 37) % 2000).map((_, k) => (k + i) & 0xff)
      const signature = signer.sign(message)
      const item: VerifyItem = { signature, message, publicKey: signer.publicKey }
      switch (i % 6) {
        case 1: items.push({ ...item, publicKey: other.publicKey }); break
        case 2: items.push({ ...item, signature: Uint8Array.from(signature, (b, k) => k === i % 64 ? b ^ 1 : b) }); break
        case 3: items.push({ ...item, signature: signature.subarray(0, 63) }); break
        case 4: items.push({ ...item, publicKey: signer.publicKey.subarray(0, 31) as PublicKey }); break
        // A view into a larger buffer: only its own bytes are verified.
        case 5: { const within = new Uint8Array(message.length + 8); within.set(message, 4); items.push({ ...item, message: within.subarray(4, 4 + message.length) }); break }
        default: items.push(item)
      }
    }
    const answers = await workers.verify(items)
    assert.deepEqual(answers, items.map(x => verifySignature(x.signature, x.message, x.publicKey as PublicKey)))
    assert.equal(answers.filter(Boolean).length, 100, 'the good and the viewed ones')
  })

  it('a verifier without open (verify only) still gets the same answers', async () => {
    const inline = new InlineVerifier()
    const verifyOnly: Verifier = { verify: async items => await inline.verify(items), close: async () => {} }
    const a = await hqWith(verifyOnly)
    const b = await hqWith(new InlineVerifier())
    const ea = await tradedTill(a)
    await tradedTill(b)
    const fields = canonicalDecode((ea.entries[1] as Entry).bytes) as { sig: Uint8Array }
    fields.sig[0] = (fields.sig[0] as number) ^ 1
    const batch = [...ea.entries.map(e => e.bytes), canonicalEncode(fields as never), new Uint8Array([0])]
    assert.deepEqual(await a.submit(batch), await b.submit(batch))
  })
})
