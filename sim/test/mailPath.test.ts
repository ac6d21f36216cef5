/**
 * The email path of fire recovery in the simulator: every close is mailed (real message
 * builder, real parser); at the fire the mailbox alone brings back each burnt till's last
 * close, and the forged email planted at the fire is rejected.
 */
import assert from 'node:assert/strict'
import { parseFaults, runSimulation } from '../src/index.ts'

describe('simulator: fire recovery by email', function () {
  this.timeout(120_000)

  it('recovers every burnt till\'s last close from the mailbox alone, and rejects the forged email', async () => {
    const r = await runSimulation({ seed: 5, tills: 12, days: 4, faults: parseFaults('all'), tillsPerStore: 3 })
    assert.equal(r.invariants.B6_fireRecoveredFromMail, true)
    assert.equal(r.invariants.B6_forgedMailRejected, true)
    const fire = r.details.fire as { store: string, lastHeads: Record<string, { seq: number, hash: string }> }
    const mail = r.details.fireMail as { messages: number, restored: Array<{ tillId: string, seq: number, takingsCents: number }>, rejected: number, otherStores: number, forgedPlanted: number, errors: string[] }
    assert.deepEqual(mail.restored.map(x => x.tillId).sort(), Object.keys(fire.lastHeads).sort())
    for (const x of mail.restored) assert.equal(x.seq, fire.lastHeads[x.tillId]?.seq, x.tillId)
    assert.equal(mail.forgedPlanted, 1)
    assert.equal(mail.rejected, mail.otherStores + 1, 'the other stores\' mail, and the one forgery')
    assert.deepEqual(mail.errors, [])
    assert.ok(mail.messages > mail.restored.length)
  })

  it('is deterministic with the mailbox (same seed, same mail, same result)', async () => {
    const a = await runSimulation({ seed: 31, tills: 7, days: 3, faults: parseFaults('fire,skew,partition,loss'), tillsPerStore: 3 })
    const b = await runSimulation({ seed: 31, tills: 7, days: 3, faults: parseFaults('fire,skew,partition,loss'), tillsPerStore: 3 })
    assert.deepEqual(a, b)
    assert.ok(a.details.fireMail !== undefined)
    assert.ok(Object.values(a.invariants).every(v => v), JSON.stringify(a.invariants))
  })

  it('without the fire fault, no mail is kept', async () => {
    const r = await runSimulation({ seed: 9, tills: 6, days: 2, faults: parseFaults('none'), tillsPerStore: 3 })
    assert.equal(r.details.fireMail, undefined)
    assert.equal(r.invariants.B6_fireRecoveredFromMail, true)
  })
})
