/**
 * The daemon commands of the CLI. A daemon prints one `ready {json}` line on stdout once it
 * serves; its logs are pino JSON on stderr. SIGTERM and SIGINT stop it gracefully (streams
 * closed, LevelDB closed); SIGKILL loses nothing that was acknowledged, by construction.
 */
import { pino } from 'pino'
import { InvalidArgumentError, type Command } from 'commander'
import { asStoreId, type StoreId } from '@tillbooks/protocol'
import type { ClientAuthFlags } from '../access/client.ts'
// The daemons (libp2p, fastify, LevelDB) load only when their command runs: `tillbooks sim` stays light.

function storeArg (v: string): StoreId {
  try {
    return asStoreId(v)
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message)
  }
}

function intArg (name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v)
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}`)
    return n
  }
}

interface DaemonAccessFlags { adminTokenFile?: string, viewerTokenFile?: string, tlsCert?: string, tlsKey?: string }

function accessOptions (o: DaemonAccessFlags): { adminTokenFile?: string, viewerTokenFile?: string, tlsCertFile?: string, tlsKeyFile?: string } {
  return {
    ...(o.adminTokenFile !== undefined ? { adminTokenFile: o.adminTokenFile } : {}),
    ...(o.viewerTokenFile !== undefined ? { viewerTokenFile: o.viewerTokenFile } : {}),
    ...(o.tlsCert !== undefined ? { tlsCertFile: o.tlsCert } : {}),
    ...(o.tlsKey !== undefined ? { tlsKeyFile: o.tlsKey } : {})
  }
}

const listArg = (v: string): string[] => v.split(',').map(s => s.trim()).filter(s => s.length > 0)

function daemonLogger (name: string): pino.Logger {
  return pino({ name, level: process.env.TILLBOOKS_LOG_LEVEL ?? 'info' }, pino.destination({ fd: 2, sync: true }))
}

/** Stop on the first SIGTERM/SIGINT; a second one exits at once. */
function onSignals (stop: () => Promise<void>, logger: pino.Logger): void {
  let stopping = false
  const handler = (signal: string): void => {
    if (stopping) process.exit(130)
    stopping = true
    logger.info({ signal }, 'stopping')
    stop().then(() => { logger.flush(); process.exit(0) }, (err: unknown) => {
      logger.error({ err: (err as Error).message }, 'stop failed')
      logger.flush()
      process.exit(1)
    })
  }
  process.on('SIGTERM', handler)
  process.on('SIGINT', handler)
}

export function registerDaemonCommands (program: Command): void {
  program.command('hq')
    .description('run head office: the durable log, the books, libp2p for tills, and an HTTP API on 127.0.0.1')
    .requiredOption('--data <dir>', 'data directory (created if absent): root key and LevelDB log')
    .option('--listen <multiaddr>', 'libp2p listen address', '/ip4/127.0.0.1/tcp/0')
    .option('--http <port>', 'HTTP port (0: any free one)', intArg('http', 0, 65535), 0)
    .option('--http-host <host>', 'HTTP bind address (beyond loopback it needs --tls-cert and --tls-key)', '127.0.0.1')
    .option('--admin-token-file <file>', 'the admin token (created, mode 0600, if absent; default DIR/admin.token)')
    .option('--viewer-token-file <file>', 'the viewer token, for the read routes beyond loopback (default DIR/viewer.token)')
    .option('--tls-cert <file>', 'PEM certificate: serve HTTPS')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--verify-workers <n>', 'signature verification worker threads (0: inline)', intArg('verify-workers', 0, 64), 2)
    .option('--rebuild <how>', 'at start, rebuild the books from the newest checkpoint of the books (signed by HQ\'s root key) and the log after it, ' +
      're-verifying every signature read from the log (verify), or trusting this HQ\'s own fsync\'d log (trust: faster; for a disk nobody else can write); ' +
      'full: from the whole log, ignoring checkpoints, re-verifying (full-trust: trusting)', (v: string) => {
      if (!['verify', 'trust', 'full', 'full-trust'].includes(v)) throw new InvalidArgumentError('verify, trust, full or full-trust')
      return v
    }, 'verify')
    .option('--checkpoint-every <records>', 'write a checkpoint of the books after this many entries logged since the last (and 10 minutes after any): a start folds the newest checkpoint and the log after it', intArg('checkpoint-every', 1, 100_000_000), 50_000)
    .option('--settlement-account <iban>', 'the merchant account card payouts go to: a bank statement (camt.053) of another account is refused')
    .option('--books-db <url>', 'where the books are projected in SQL for reporting: postgres://USER@HOST:PORT/DB (through pg), or off. ' +
      'Default: embedded PGlite in DIR/books-db. Either way a projection of the log, rebuilt from it at start whenever it disagrees (PGlite does not fsync); ' +
      'a server that cannot be reached is reported and tried again while HQ keeps booking into its log')
    .option('--replica-of <list>', 'comma-separated multiaddrs (with /p2p/) of other replicas of this HQ: they share its root key (copy DIR/root.key and member.key from the first HQ), and sync every till log and HQ record both ways', listArg, [])
    .action(async (o: { data: string, listen: string, http: number, httpHost: string, verifyWorkers: number, rebuild: 'verify' | 'trust' | 'full' | 'full-trust', checkpointEvery: number, settlementAccount?: string, booksDb?: string, replicaOf: string[] } & DaemonAccessFlags) => {
      const logger = daemonLogger('tillbooks-hq')
      const { startHqDaemon } = await import('./hqDaemon.ts')
      const d = await startHqDaemon({ dataDir: o.data, listen: [o.listen], httpPort: o.http, httpHost: o.httpHost, logger, verifyWorkers: o.verifyWorkers, rebuildVerify: o.rebuild === 'verify' || o.rebuild === 'full', rebuild: o.rebuild.startsWith('full') ? 'full' : 'checkpoint', checkpointRecordsEvery: o.checkpointEvery, ...(o.settlementAccount !== undefined ? { settlementAccount: o.settlementAccount } : {}), ...(o.booksDb !== undefined ? { booksDb: o.booksDb } : {}), replicaOf: o.replicaOf, ...accessOptions(o) })
      onSignals(d.stop, logger)
      process.stdout.write(`ready ${JSON.stringify(d.ready)}\n`)
    })

  program.command('processor')
    .description('run the embedded card processor (demos and tests): authorises the documented test cards, settles each day with fees, serves its settlement report and the bank\'s camt.053')
    .requiredOption('--data <dir>', 'data directory (created if absent): the processor\'s LevelDB')
    .option('--http <port>', 'HTTP port (0: any free one)', intArg('http', 0, 65535), 0)
    .option('--profile <name>', 'the store-and-forward profile tills apply: default, square, clover, online-only', 'default')
    .option('--fee-bp <n>', 'fee on each payment, basis points of its gross', intArg('fee-bp', 0, 10_000), 150)
    .option('--currency <code>', 'the currency the merchant account settles in', 'EUR')
    .option('--iban <iban>', 'the merchant account the payouts go to (in the camt.053 statements)')
    .action(async (o: { data: string, http: number, profile: string, feeBp: number, currency: string, iban?: string }) => {
      const logger = daemonLogger('tillbooks-processor')
      const { startProcessorDaemon } = await import('../processor/processorDaemon.ts')
      const d = await startProcessorDaemon({ dataDir: o.data, httpPort: o.http, logger, profile: o.profile, feeBp: o.feeBp, currency: o.currency, ...(o.iban !== undefined ? { iban: o.iban } : {}) })
      onSignals(d.stop, logger)
      process.stdout.write(`ready ${JSON.stringify(d.ready)}\n`)
    })

  program.command('till')
    .description('run one till: selling over a local HTTP API, its outbox to HQ and replicas with neighbours over libp2p')
    .requiredOption('--data <dir>', 'the till directory, enrolled with `tillbooks enrol`')
    .requiredOption('--store <id>', 'store id, e.g. S1', storeArg)
    .requiredOption('--till <n>', 'till number in the store', intArg('till', 1, 999))
    .requiredOption('--hq <multiaddrs>', "HQ's libp2p address, with /p2p/<peer id>; several replicas comma-separated (the till sends to the first that answers, and drops a record once any acknowledged it)")
    .option('--http <port>', 'HTTP port (0: any free one)', intArg('http', 0, 65535), 0)
    .option('--http-host <host>', 'HTTP bind address (beyond loopback it needs --tls-cert and --tls-key, and callers the till\'s tokens)', '127.0.0.1')
    .option('--admin-token-file <file>', 'the till API\'s admin token, for writes beyond loopback (default DIR/admin.token)')
    .option('--viewer-token-file <file>', 'the till API\'s viewer token, for reads beyond loopback (default DIR/viewer.token)')
    .option('--tls-cert <file>', 'PEM certificate: serve HTTPS')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--listen <multiaddr>', 'libp2p listen address', '/ip4/127.0.0.1/tcp/0')
    .option('--neighbours <list>', 'comma-separated multiaddrs (with /p2p/) of tills in neighbouring stores', listArg, [])
    .option('--retry-max-ms <n>', 'longest wait between resends to HQ', intArg('retry-max-ms', 10, 3_600_000), 30_000)
    .option('--deliveries <who>', "does this till book the store's deliveries (one till per store does): yes, no, auto (auto: till 1)", (v: string) => {
      if (!['yes', 'no', 'auto'].includes(v)) throw new InvalidArgumentError('yes, no or auto')
      return v
    }, 'auto')
    .option('--gossip-ring <name>', 'announce new heads by gossip on this ring of neighbouring stores (tillbooks/heads/1/<name>)', 'default')
    .option('--no-gossip', 'no heads gossip: neighbours learn of new heads by direct announcement only')
    .option('--smtp <url>', 'email each close as a signed backup through this SMTP server (smtp://host:port, smtps://…)')
    .option('--backup-to <address>', 'the mailbox backups go to (with --smtp)')
    .option('--backup-from <address>', 'sender address of the backups')
    .option('--processor <url>', 'the card processor card and wallet tenders go to, directly (e.g. the embedded one: `tillbooks processor`)')
    .action(async (o: { data: string, store: StoreId, till: number, hq: string, http: number, httpHost: string, listen: string, neighbours: string[], retryMaxMs: number, deliveries: string, gossipRing: string, gossip: boolean, smtp?: string, backupTo?: string, backupFrom?: string, processor?: string } & DaemonAccessFlags) => {
      if ((o.smtp === undefined) !== (o.backupTo === undefined)) throw new InvalidArgumentError('--smtp and --backup-to go together')
      const logger = daemonLogger(`tillbooks-till-${o.store}-${o.till}`)
      const { startTillDaemon } = await import('./tillDaemon.ts')
      const d = await startTillDaemon({ dataDir: o.data, store: o.store, till: o.till, hq: o.hq, httpPort: o.http, httpHost: o.httpHost, listen: [o.listen], neighbours: o.neighbours, logger, retryMaxMs: o.retryMaxMs, ...(o.deliveries !== 'auto' ? { receivesDeliveries: o.deliveries === 'yes' } : {}), ...(o.smtp !== undefined && o.backupTo !== undefined ? { mail: { smtpUrl: o.smtp, to: o.backupTo, ...(o.backupFrom !== undefined ? { from: o.backupFrom } : {}) } } : {}), ...accessOptions(o), gossipRing: o.gossip ? o.gossipRing : null, ...(o.processor !== undefined ? { processor: o.processor } : {}) })
      onSignals(d.stop, logger)
      process.stdout.write(`ready ${JSON.stringify(d.ready)}\n`)
    })

  program.command('store')
    .description("run several tills of one store in one process (each its own key, LevelDB, libp2p identity and HTTP port): a store's back-office box, or a fleet on one machine")
    .requiredOption('--spec <file>', 'JSON: { "tills": [{ "data", "store", "till", "hq", "http"?, "listen"?, "neighbours"?, "deliveries"?, "retryMaxMs"?, "processor"? }] }')
    .action(async (o: { spec: string }) => {
      const { readFile } = await import('node:fs/promises')
      const spec = JSON.parse(await readFile(o.spec, 'utf8')) as { tills: Array<{ data: string, store: string, till: number, hq: string, http?: number, listen?: string, neighbours?: string[], deliveries?: boolean, retryMaxMs?: number, processor?: string }> }
      if (!Array.isArray(spec.tills) || spec.tills.length === 0 || spec.tills.length > 999) throw new InvalidArgumentError('--spec needs 1..999 tills')
      const logger = daemonLogger(`tillbooks-store-${spec.tills[0]?.store ?? ''}`)
      const { startTillDaemon } = await import('./tillDaemon.ts')
      const daemons: Array<{ stop: () => Promise<void> }> = []
      for (const t of spec.tills) {
        const d = await startTillDaemon({
          dataDir: t.data, store: storeArg(t.store), till: t.till, hq: t.hq, httpPort: t.http ?? 0, listen: [t.listen ?? '/ip4/127.0.0.1/tcp/0'],
          neighbours: t.neighbours ?? [], logger: logger.child({ tillId: `${t.store}-${t.till}` }), retryMaxMs: t.retryMaxMs ?? 30_000,
          ...(t.deliveries !== undefined ? { receivesDeliveries: t.deliveries } : {}),
          ...(t.processor !== undefined ? { processor: t.processor } : {})
        })
        daemons.push(d)
        // One ready line per till, as `tillbooks till` prints it.
        process.stdout.write(`ready ${JSON.stringify(d.ready)}\n`)
      }
      onSignals(async () => { await Promise.all(daemons.map(async d => { await d.stop() })) }, logger)
    })

  program.command('enrol')
    .description("create a till's key (if absent) and get its certificate from HQ; with --recover-from, recover a burnt till's log first")
    .requiredOption('--hq <url>', "HQ's HTTP API, e.g. http://127.0.0.1:8080")
    .requiredOption('--data <dir>', 'the till directory')
    .requiredOption('--store <id>', 'store id', storeArg)
    .requiredOption('--till <n>', 'till number', intArg('till', 1, 999))
    .option('--recover-from <list>', 'comma-separated multiaddrs of peers holding a replica of this till\'s log', listArg, [])
    .option('--code <code>', 'a one-time enrolment code for this slot (tillbooks codes new): all it takes')
    .option('--token-file <file>', 'HQ\'s admin token instead of a code (default: the TILLBOOKS_TOKEN environment variable)')
    .option('--ca <file>', 'PEM of the CA that signed HQ\'s HTTPS certificate')
    .option('--json', 'print the result as one JSON object on the last line')
    .action(async (o: { hq: string, data: string, store: StoreId, till: number, recoverFrom: string[], json?: boolean } & ClientAuthFlags) => {
      const logger = daemonLogger('tillbooks-enrol')
      const { enrolTill } = await import('./enrol.ts')
      const { clientAuthFrom } = await import('../access/client.ts')
      let r: Awaited<ReturnType<typeof enrolTill>>
      try {
        r = await enrolTill({ hqUrl: o.hq, dataDir: o.data, store: o.store, till: o.till, recoverFrom: o.recoverFrom, auth: await clientAuthFrom(o), logger })
      } catch (err) {
        logger.flush()
        if (o.json === true) process.stdout.write(JSON.stringify({ error: (err as Error).message }) + '\n')
        process.stderr.write(`tillbooks enrol: ${(err as Error).message}\n`)
        process.exitCode = 2
        return
      }
      logger.flush()
      if (o.json === true) {
        process.stdout.write(JSON.stringify(r) + '\n')
      } else {
        process.stdout.write(`${r.tillId} enrolled from seq ${r.fromSeq}; peer id ${r.peerId}\n`)
        if (r.recovered !== null) process.stdout.write(`recovered seq 1..${r.recovered.seq} from ${r.recovered.from}; next document after ${r.recovered.docLast ?? 0}\n`)
        for (const x of r.rejected) process.stdout.write(`refused from ${x.source}: ${x.reason}\n`)
      }
    })

  const catalogue = program.command('catalogue').description("the retailer's catalogue at HQ: import its CSV, export it")
  catalogue.command('import')
    .description('import a CSV (sku,name,gtin,price,taxRateBp,cost,stocked,recipe) into HQ\'s catalogue from a business day; a bad file is refused whole, each error with its line and column')
    .requiredOption('--hq <url>', "HQ's HTTP API, e.g. http://127.0.0.1:8080")
    .requiredOption('--csv <file>', 'the catalogue file')
    .option('--effective <day>', 'the business day it takes effect (default: HQ\'s today)')
    .option('--token-file <file>', 'HQ\'s admin token (default: the TILLBOOKS_TOKEN environment variable)')
    .option('--ca <file>', 'PEM of the CA that signed HQ\'s HTTPS certificate')
    .option('--json', 'print { imported, unchanged, errors: [{ line, column, reason }] } as one JSON object on the last line')
    .action(async (o: { hq: string, csv: string, effective?: string, json?: boolean } & ClientAuthFlags) => {
      const { readFile } = await import('node:fs/promises')
      const { clientAuthFrom } = await import('../access/client.ts')
      const { HqClient } = await import('./HqClient.ts')
      try {
        const text = await readFile(o.csv, 'utf8')
        const hq = new HqClient(o.hq, { auth: await clientAuthFrom({ tokenFile: o.tokenFile, ca: o.ca }) })
        const r = await hq.importCatalogue(text, o.effective)
        const effective = (r as { effective?: string }).effective
        if (o.json === true) process.stdout.write(JSON.stringify({ imported: r.imported, unchanged: r.unchanged, errors: r.errors, ...(effective !== undefined ? { effective } : {}) }) + '\n')
        else if (r.errors.length === 0) process.stdout.write(`imported ${r.imported} product(s), ${r.unchanged} unchanged, in force from ${effective ?? 'the day given'}\n`)
        else for (const e of r.errors) process.stderr.write(`${o.csv}:${e.line}${e.column !== null ? ` (${e.column})` : ''}: ${e.reason}\n`)
        if (r.errors.length > 0) process.exitCode = 2
      } catch (err) {
        if (o.json === true) process.stdout.write(JSON.stringify({ imported: 0, unchanged: 0, errors: [{ line: 0, column: null, reason: (err as Error).message }] }) + '\n')
        process.stderr.write(`tillbooks catalogue import: ${(err as Error).message}\n`)
        process.exitCode = 2
      }
    })
  catalogue.command('export')
    .description('print HQ\'s catalogue in force: JSON, or the CSV an import reads')
    .requiredOption('--hq <url>', "HQ's HTTP API, e.g. http://127.0.0.1:8080")
    .option('--csv', 'as the retailer\'s CSV (default: JSON)')
    .option('--day <day>', 'the business day (default: HQ\'s today)')
    .option('--token-file <file>', 'HQ\'s viewer or admin token, beyond loopback (default: the TILLBOOKS_TOKEN environment variable)')
    .option('--ca <file>', 'PEM of the CA that signed HQ\'s HTTPS certificate')
    .action(async (o: { hq: string, csv?: boolean, day?: string } & ClientAuthFlags) => {
      const { clientAuthFrom } = await import('../access/client.ts')
      const { HqClient } = await import('./HqClient.ts')
      try {
        const hq = new HqClient(o.hq, { auth: await clientAuthFrom({ tokenFile: o.tokenFile, ca: o.ca }) })
        process.stdout.write(o.csv === true ? await hq.catalogueCsv(o.day) : JSON.stringify(await hq.catalogue(o.day)) + '\n')
      } catch (err) {
        process.stderr.write(`tillbooks catalogue export: ${(err as Error).message}\n`)
        process.exitCode = 2
      }
    })

  const receipt = program.command('receipt').description('a customer\'s signed receipt')
  receipt.command('verify')
    .description('verify a receipt offline with HQ\'s root key alone: its QR text (TB1:…), or a file (the JSON of GET /receipts/<docNo>, with its lines; the QR text; or the COSE bytes)')
    .option('--qr <text>', 'the QR text, TB1:…')
    .option('--file <file>', 'a receipt file')
    .requiredOption('--root-key <hex>', 'HQ\'s root public key (64 hex digits)')
    .option('--json', 'print { valid, tillId?, receipt?, linesMatch?, error? } as one JSON object on the last line')
    .action(async (o: { qr?: string, file?: string, rootKey: string, json?: boolean }) => {
      const { readFile } = await import('node:fs/promises')
      const { fromHex } = await import('@tillbooks/protocol')
      const { linesMatch, verifyReceipt } = await import('@tillbooks/wallet')
      try {
        if ((o.qr === undefined) === (o.file === undefined)) throw new Error('give --qr TEXT or --file FILE (one of them)')
        if (!/^[0-9a-f]{64}$/i.test(o.rootKey)) throw new Error('--root-key is 64 hex digits')
        let input: string | Uint8Array = o.qr ?? ''
        let lines: unknown
        if (o.file !== undefined) {
          const bytes = await readFile(o.file)
          const text = bytes.toString('utf8').trim()
          if (text.startsWith('{')) {
            const j = JSON.parse(text) as { qr?: unknown, lines?: unknown }
            if (typeof j.qr !== 'string') throw new Error(`${o.file}: a receipt file has its qr`)
            input = j.qr
            lines = j.lines
          } else input = text.startsWith('TB1:') ? text : new Uint8Array(bytes)
        }
        const v = verifyReceipt(input, fromHex(o.rootKey) as never)
        const match = Array.isArray(lines) ? linesMatch(v.receipt, lines as never) : undefined
        const receiptJson = { ...v.receipt, linesDigest: Buffer.from(v.receipt.linesDigest).toString('hex') }
        if (o.json === true) process.stdout.write(JSON.stringify({ valid: match !== false, tillId: v.tillId, tillKey: v.tillKey, receipt: receiptJson, ...(match !== undefined ? { linesMatch: match } : {}) }) + '\n')
        else process.stdout.write(`${match === false ? 'NOT valid: the lines are not the receipt\'s' : 'valid'}: ${v.receipt.kind} ${v.receipt.docNo} of till ${v.tillId}, ${v.receipt.businessDay}, ${v.receipt.totalCents} ${v.receipt.currency} cents\n`)
        if (match === false) process.exitCode = 2
      } catch (err) {
        if (o.json === true) process.stdout.write(JSON.stringify({ valid: false, error: (err as Error).message }) + '\n')
        process.stderr.write(`tillbooks receipt verify: ${(err as Error).message}\n`)
        process.exitCode = 2
      }
    })

  program.command('reconcile')
    .description('import a settlement file (the processor\'s CSV report or a bank\'s camt.053) at HQ and print its reconciliation: every exception with what it involves; the same file twice changes nothing')
    .requiredOption('--hq <url>', "HQ's HTTP API, e.g. http://127.0.0.1:8080")
    .requiredOption('--file <file>', 'the settlement report (CSV) or bank statement (camt.053 XML)')
    .option('--processor <name>', 'the processor the file is from (default: the one HQ knows, else embedded)')
    .option('--lag-days <n>', 'days the processor takes to settle a day\'s payments (default 0)', (v: string) => {
      if (!/^\d{1,2}$/.test(v)) throw new InvalidArgumentError('a whole number of days')
      return Number(v)
    })
    .option('--token-file <file>', 'HQ\'s admin token (default: the TILLBOOKS_TOKEN environment variable)')
    .option('--ca <file>', 'PEM of the CA that signed HQ\'s HTTPS certificate')
    .option('--json', 'print { file, day, matched, exceptions: [{ kind, paymentId?, processorRef?, till?, docNo?, expectedCents?, settledCents?, count? }] } as one JSON object on the last line (count: a till\'s payments not yet due, in one timing line)')
    .action(async (o: { hq: string, file: string, processor?: string, lagDays?: number, json?: boolean } & ClientAuthFlags) => {
      const { readFile } = await import('node:fs/promises')
      const { basename } = await import('node:path')
      const { clientAuthFrom } = await import('../access/client.ts')
      const { HqClient } = await import('./HqClient.ts')
      try {
        const bytes = new Uint8Array(await readFile(o.file))
        const hq = new HqClient(o.hq, { timeoutMs: 300_000, auth: await clientAuthFrom({ tokenFile: o.tokenFile, ca: o.ca }) })
        const r = await hq.importSettlement(bytes, { name: basename(o.file), ...(o.processor !== undefined ? { processor: o.processor } : {}), ...(o.lagDays !== undefined ? { lagDays: o.lagDays } : {}) }) as {
          file: string, day: string, matched: number, duplicate?: boolean, clearingCents: number, openCents: number, tillsWithoutDetail: string[],
          exceptions: Array<{ kind: string, paymentId?: string, processorRef?: string, till?: string, docNo?: string, expectedCents?: number, settledCents?: number, count?: number }>
        }
        if (o.json === true) process.stdout.write(JSON.stringify(r) + '\n')
        else {
          process.stdout.write(`${r.file}: through ${r.day}, ${r.matched} matched, ${r.exceptions.length} exception(s)${r.duplicate === true ? ' (imported before: nothing changed)' : ''}\n`)
          for (const e of r.exceptions) {
            process.stdout.write(`  ${e.kind.padEnd(21)} ${e.paymentId ?? (e.count !== undefined ? `${e.count} payment(s)` : '-')} ${e.processorRef ?? ''}${e.till !== undefined ? ` till ${e.till}` : ''}${e.docNo !== undefined ? ` doc ${e.docNo}` : ''}${e.expectedCents !== undefined ? ` expected ${e.expectedCents}` : ''}${e.settledCents !== undefined ? ` settled ${e.settledCents}` : ''}\n`)
          }
          process.stdout.write(`card clearing ${r.clearingCents} cents; open exceptions ${r.openCents} cents${r.clearingCents === r.openCents ? ' (equal)' : ' (NOT equal)'}\n`)
          if (r.tillsWithoutDetail.length > 0) process.stdout.write(`tills whose approvals could not be fetched: ${r.tillsWithoutDetail.join(', ')}\n`)
        }
      } catch (err) {
        if (o.json === true) {
          const body = (err as { body?: unknown }).body
          process.stdout.write(JSON.stringify({ ...(typeof body === 'object' && body !== null ? body : {}), error: (err as Error).message }) + '\n')
        }
        process.stderr.write(`tillbooks reconcile: ${(err as Error).message}\n`)
        process.exitCode = 2
      }
    })

  const codes = program.command('codes').description('one-time enrolment codes: the only way, besides the admin token, to enrol a till key')
  codes.command('new')
    .description('issue a code for one till slot: `tillbooks enrol --code CODE` uses it once, before it expires')
    .requiredOption('--hq <url>', "HQ's HTTP API, e.g. http://127.0.0.1:8080")
    .requiredOption('--store <id>', 'store id', storeArg)
    .requiredOption('--till <n>', 'till number', intArg('till', 1, 999))
    .option('--ttl <duration>', 'how long the code lives: 90s, 30m, 24h, 7d', '24h')
    .option('--token-file <file>', 'HQ\'s admin token (default: the TILLBOOKS_TOKEN environment variable)')
    .option('--ca <file>', 'PEM of the CA that signed HQ\'s HTTPS certificate')
    .option('--json', 'print { code, store, till, expiresAt } as one JSON object on the last line')
    .action(async (o: { hq: string, store: StoreId, till: number, ttl: string, json?: boolean } & ClientAuthFlags) => {
      const { parseTtl } = await import('../access/codes.ts')
      try { parseTtl(o.ttl) } catch (err) { throw new InvalidArgumentError((err as Error).message) }
      const { clientAuthFrom } = await import('../access/client.ts')
      const { HqClient } = await import('./HqClient.ts')
      try {
        const hq = new HqClient(o.hq, { auth: await clientAuthFrom({ tokenFile: o.tokenFile, ca: o.ca }) })
        const c = await hq.issueCode({ store: o.store, till: o.till, ttl: o.ttl })
        if (o.json === true) process.stdout.write(JSON.stringify({ code: c.code, store: c.store, till: c.till, expiresAt: c.expiresAt }) + '\n')
        else process.stdout.write(`${c.code}  enrols till ${c.store}-${c.till} once, until ${c.expiresAt}\n`)
      } catch (err) {
        if (o.json === true) process.stdout.write(JSON.stringify({ error: (err as Error).message }) + '\n')
        process.stderr.write(`tillbooks codes new: ${(err as Error).message}\n`)
        process.exitCode = 2
      }
    })
}
