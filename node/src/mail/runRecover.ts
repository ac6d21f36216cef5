/**
 * The work of `tillbooks recover` (see recoverCommand.ts): read and verify the mailbox,
 * hand the recovered chains to HQ, adopt one onto a replacement till's data dir.
 */
import { asStoreId, fromHex, tillIdOf, type PublicKey, type TillId } from '@tillbooks/protocol'
import { readTillIdentity } from '../daemon/dataDir.ts'
import { moneyText } from './format.ts'
import { HqClient } from '../daemon/HqClient.ts'
import { clientAuthFrom } from '../access/client.ts'
import { recoverFromMail, recoveryJson } from './recover.ts'
import { restoreToTillDir, tillDirState, type TillDirRestore } from './restore.ts'

export interface RecoverCommandOptions {
  fromMail: string
  store: string
  till?: number
  hq?: string
  toDir?: string
  rootKey?: string
  /** HQ credentials: the admin token's file (else TILLBOOKS_TOKEN), or an enrolment code for the slot; a private CA. */
  tokenFile?: string
  code?: string
  ca?: string
  json?: boolean
}

export interface RecoverCommandResult {
  store: string
  restored: ReturnType<typeof recoveryJson>['restored']
  rejected: ReturnType<typeof recoveryJson>['rejected']
  messages: number
  skipped: number
  hq?: { url: string, submitted: number, accepted: number, duplicate: number, rejected: number, reasons: string[] }
  toDir?: TillDirRestore
}

/** The command's work, callable from tests without a process. */
export async function runRecover (o: RecoverCommandOptions): Promise<RecoverCommandResult> {
  const store = asStoreId(o.store)
  const hq = o.hq !== undefined ? new HqClient(o.hq, { auth: await clientAuthFrom(o) }) : undefined
  const dirIdentity = o.toDir !== undefined ? await readTillIdentity(o.toDir) : null
  if (dirIdentity !== null && dirIdentity.store !== store) throw new Error(`${o.toDir ?? ''} is a till of store ${dirIdentity.store}, not ${store}`)
  if (dirIdentity !== null && o.till !== undefined && dirIdentity.till !== o.till) throw new Error(`${o.toDir ?? ''} is till ${dirIdentity.tillId}, not ${store}-${o.till}`)
  const till = o.till ?? dirIdentity?.till
  if (o.toDir !== undefined && till === undefined) throw new Error('--to-dir needs --till (or a till.json in the dir saying which till it is)')

  let rootKey: PublicKey
  const hqCerts = new Map<TillId, Uint8Array[]>()
  if (hq !== undefined) {
    const probe = tillIdOf(store, till ?? 1)
    const c = await hq.certificates(probe)
    rootKey = c.rootKey
    hqCerts.set(probe, c.certificates)
  } else if (o.rootKey !== undefined) {
    rootKey = fromHex(o.rootKey) as PublicKey
  } else if (dirIdentity !== null) {
    rootKey = fromHex(dirIdentity.hqRootKey) as PublicKey
  } else {
    throw new Error('HQ\'s root key is needed to verify the backups: give --hq URL, --root-key HEX, or --to-dir with an enrolled till.json')
  }

  const dirTillId = o.toDir !== undefined && till !== undefined ? tillIdOf(store, till) : null
  const dirHead = o.toDir !== undefined && dirTillId !== null ? (await tillDirState(o.toDir, dirTillId, rootKey)).headSeq : 0
  const hqLogs = new Map<TillId, { entries: Uint8Array[], heldSeq: number }>()
  const hqLog = async (tillId: TillId): Promise<{ entries: Uint8Array[], heldSeq: number }> => {
    let l = hqLogs.get(tillId)
    if (l === undefined && hq !== undefined) { l = await hq.log(tillId); hqLogs.set(tillId, l) }
    return l ?? { entries: [], heldSeq: 0 }
  }

  const recovery = await recoverFromMail({
    path: o.fromMail,
    store,
    ...(till !== undefined ? { till } : {}),
    rootKey,
    certificates: async tillId => {
      if (hq !== undefined) {
        let c = hqCerts.get(tillId)
        if (c === undefined) { c = (await hq.certificates(tillId)).certificates; hqCerts.set(tillId, c) }
        return c
      }
      // Without HQ: the certificate in the replacement's till.json (if it is this slot's), and those the backups carry.
      return dirIdentity !== null && dirIdentity.tillId === tillId ? [new Uint8Array(Buffer.from(dirIdentity.certificate, 'base64'))] : []
    },
    ...(hq !== undefined
      ? {
          baseLog: async (tillId: TillId) => ({ source: 'hq', entries: (await hqLog(tillId)).entries }),
          heldSeq: async (tillId: TillId) => (await hqLog(tillId)).heldSeq
        }
      : {}),
    currentHead: tillId => tillId === dirTillId ? dirHead : 0
  })

  const out: RecoverCommandResult = { ...recoveryJson(recovery) }
  if (hq !== undefined) {
    const entries = recovery.restored.flatMap(r => r.entries.map(e => e.bytes))
    const answers = entries.length > 0 ? await hq.submit(entries) : []
    out.hq = {
      url: hq.base,
      submitted: answers.length,
      accepted: answers.filter(a => a.status === 'accepted').length,
      duplicate: answers.filter(a => a.status === 'duplicate').length,
      rejected: answers.filter(a => a.status === 'rejected').length,
      reasons: answers.filter(a => a.status === 'rejected').map(a => `seq ${a.seq ?? '?'}: ${a.code ?? ''} ${a.reason ?? ''}`).slice(0, 20)
    }
  }
  if (o.toDir !== undefined && dirTillId !== null) {
    const r = recovery.restored.find(x => x.tillId === dirTillId)
    if (r !== undefined) out.toDir = await restoreToTillDir(o.toDir, r, rootKey, hq)
  }
  return out
}

export function formatRecover (r: RecoverCommandResult, path: string): string {
  const lines: string[] = []
  lines.push(`Read ${r.messages} message(s) from ${path} for store ${r.store}${r.skipped > 0 ? ` (${r.skipped} of other tills skipped)` : ''}.`)
  if (r.restored.length === 0) lines.push('Nothing restored.')
  for (const t of r.restored) {
    lines.push(`  ${t.tillId}: restored to seq ${t.lastSeq}${t.businessDay !== null ? `, last close ${t.businessDay}, takings ${moneyText(t.takingsCents)}` : ''}; next document ${t.tillId}-${t.nextDocN} (from ${t.from})`)
  }
  if (r.rejected.length > 0) {
    lines.push(`Rejected ${r.rejected.length}:`)
    for (const x of r.rejected) lines.push(`  ${x.source}: ${x.reason}`)
  }
  if (r.hq !== undefined) lines.push(`HQ ${r.hq.url}: ${r.hq.submitted} entries handed over, ${r.hq.accepted} accepted, ${r.hq.duplicate} already held, ${r.hq.rejected} rejected`)
  if (r.toDir !== undefined) {
    const d = r.toDir
    lines.push(`Replacement till in ${d.dir}: ${d.adopted ? 'log adopted' : 'log already there'} to seq ${d.headSeq}, next document ${d.nextDocNo}${d.enrolledFromSeq !== null ? `, key enrolled from seq ${d.enrolledFromSeq}` : ' (not enrolled: give --hq, or enrol its key from the next seq)'}`)
  }
  return lines.join('\n')
}

