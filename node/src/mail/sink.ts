/**
 * A small SMTP server (smtp-server) that files every message it accepts into a Maildir:
 * written under tmp/, then renamed into new/. For tests, the demo and trying the email
 * backup locally; a store's real mail goes to whatever server `--smtp` names.
 */
import { deliverToMaildir } from './mailbox.ts'

export interface MaildirSinkOptions {
  maildir: string
  host?: string
  /** 0 (default): any free port. */
  port?: number
  /** Implicit TLS (smtps) with smtp-server's built-in self-signed certificate, or key/cert given. */
  secure?: boolean
  key?: string | Buffer
  cert?: string | Buffer
  /**
   * Offer STARTTLS (with key/cert, or smtp-server's built-in self-signed certificate, which
   * has expired: clients must then skip verification). Default: plain SMTP only.
   */
  startTls?: boolean
  /** Largest message accepted (default 50 MB). */
  sizeMax?: number
  /** Called per message before filing: return an SMTP error text to refuse it with 451 (try later). */
  refuse?: (n: number) => string | null
}

export interface MaildirSink {
  host: string
  port: number
  /** smtp://host:port (or smtps://). */
  url: string
  /** Messages filed so far, their paths in delivery order. */
  delivered: string[]
  /** Messages refused so far (by `refuse`). */
  refused: number
  close: () => Promise<void>
}

export async function startMaildirSink (o: MaildirSinkOptions): Promise<MaildirSink> {
  const host = o.host ?? '127.0.0.1'
  const sizeMax = o.sizeMax ?? 50 * 1024 * 1024
  const delivered: string[] = []
  let offered = 0
  const sink: MaildirSink = { host, port: 0, url: '', delivered, refused: 0, close: async () => {} }
  const { SMTPServer } = await import('smtp-server')
  const server = new SMTPServer({
    secure: o.secure === true,
    ...(o.key !== undefined ? { key: o.key } : {}),
    ...(o.cert !== undefined ? { cert: o.cert } : {}),
    authOptional: true,
    disabledCommands: o.startTls === true || o.secure === true ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    size: sizeMax,
    logger: false,
    banner: 'tillbooks maildir sink',
    closeTimeout: 2_000,
    onData (stream, _session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => { chunks.push(c) })
      stream.on('error', err => { callback(err) })
      stream.on('end', () => {
        if (stream.sizeExceeded) { callback(Object.assign(new Error('message too large'), { responseCode: 552 })); return }
        const why = o.refuse?.(++offered) ?? null
        if (why !== null) {
          sink.refused++
          callback(Object.assign(new Error(why), { responseCode: 451 }))
          return
        }
        deliverToMaildir(o.maildir, Buffer.concat(chunks)).then(path => {
          delivered.push(path)
          callback()
        }, (err: unknown) => { callback(Object.assign(new Error(`cannot file the message: ${(err as Error).message}`), { responseCode: 451 })) })
      })
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port ?? 0, host, () => { server.off('error', reject); resolve() })
  })
  const address = server.server.address()
  sink.port = typeof address === 'object' && address !== null ? address.port : 0
  sink.url = `${o.secure === true ? 'smtps' : 'smtp'}://${host}:${sink.port}`
  server.on('error', () => {}) // a client's broken connection is not the sink's failure
  sink.close = async () => { await new Promise<void>(resolve => { server.close(() => { resolve() }) }) }
  return sink
}
