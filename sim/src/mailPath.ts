/**
 * The email path of fire recovery in the simulator. Each till's close is backed up into a
 * simulated mailbox with the real message builder (no SMTP: the message "arrives" as
 * built), dated by the till's own virtual clock; every message is parsed with the real
 * parser as it arrives, off the virtual timeline (building and parsing touch no
 * simulation state, and the bytes are a pure function of the entries and the date, so the
 * run stays deterministic). At a fire, recovery reads the mailbox like `tillbooks recover`.
 */
import { keyPairFromSeed, signEntry, Signer, type Close, type Entry, type TillId } from '@tillbooks/protocol'
import { backupOf, buildBackupMessage, parseBackupMessage, preloadMailParser, recoverFromMail, type MailRecovery, type ParsedBackup, type TillNode } from '@tillbooks/node'

const TO = 'backups@hq.tillbooks.test'

export class SimMailbox {
  readonly #messages: Array<{ source: string, parsed: Promise<ParsedBackup | null> }> = []
  readonly errors: string[] = []
  /** Sources of planted forgeries, and the hashes of the entries they carry. */
  readonly forged: Array<{ source: string, hashes: string[] }> = []

  static async preload (): Promise<void> {
    await preloadMailParser()
  }

  get size (): number { return this.#messages.length }

  #deliver (source: string, build: Promise<Buffer>): void {
    const parsed = build.then(async raw => await parseBackupMessage({ source, raw })).catch((err: unknown) => {
      this.errors.push(`${source}: ${(err as Error).message}`)
      return null
    })
    this.#messages.push({ source, parsed })
  }

  #source (tillId: string, seq: number): string {
    return `mail/${String(this.#messages.length + 1).padStart(6, '0')}-${tillId}-${seq}.eml`
  }

  /** The till backs up its close: its unacknowledged entries and the day's StockIn and Close. */
  backup (till: TillNode, certificates: Uint8Array[], dateMs: number): void {
    const input = backupOf(till, { certificates })
    const head = input.entries[input.entries.length - 1]
    if (head === undefined) return
    const source = this.#source(till.tillId, head.record.seq)
    this.#deliver(source, buildBackupMessage(input, { from: `till-${till.tillId}@tillbooks.test`, to: TO, dateMs }).then(m => m.raw))
  }

  /**
   * A forger mails a backup for `tillId`: the real log up to its head, but the last Close
   * rewritten with higher takings and signed by the forger's own key, dated after the real one.
   */
  plantForgery (tillId: TillId, log: readonly Entry[], seed: Uint8Array, dateMs: number): void {
    const forger = new Signer(keyPairFromSeed(seed))
    const i = log.findLastIndex(e => e.record.kind === 'close')
    const real = log[i]
    if (real === undefined) return
    const c = real.record as Close
    const extra = 100_000
    const tax = c.tax.length > 0 ? c.tax.map((l, k) => k === 0 ? { ...l, netCents: l.netCents + extra } : l) : [{ rateBp: 0, netCents: extra, taxCents: 0 }]
    const forgedClose = signEntry({ ...c, takingsCents: { ...c.takingsCents, card: c.takingsCents.card + extra }, tax }, forger)
    const entries = [...log.slice(Math.max(0, i - 1), i), forgedClose]
    const source = this.#source(tillId, c.seq)
    this.forged.push({ source, hashes: [forgedClose.hash] })
    this.#deliver(source, buildBackupMessage({ tillId, entries }, { from: `till-${tillId}@tillbooks.test`, to: TO, dateMs }).then(m => m.raw))
  }

  /** Every message, parsed (already, in practice: parsing runs as mail arrives). */
  async parsed (): Promise<ParsedBackup[]> {
    const out: ParsedBackup[] = []
    for (const m of this.#messages) {
      const p = await m.parsed
      if (p !== null) out.push(p)
    }
    return out
  }

  /** Recovery from the mailbox alone: HQ's root key and the slot's certificates, nothing else. */
  async recover (store: string, rootKey: Uint8Array, certificates: (tillId: TillId) => Uint8Array[]): Promise<MailRecovery> {
    return await recoverFromMail({ parsed: await this.parsed(), store, rootKey, certificates, trustMessageCertificates: false })
  }
}
