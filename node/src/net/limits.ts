/**
 * Hard limits of the tillbooks wire protocols and of one peer's libp2p node. Every one is
 * checked before the thing it bounds is buffered or used.
 */
import { ENTRY_BYTES_MAX } from '@tillbooks/protocol'

/** Entries in one submit request. `TillbooksPeer.submit` splits larger batches into requests of this many. */
export const SUBMIT_ENTRIES_MAX = 64
/** Entries in one page of a log response (the client asks for the next page itself). */
export const LOG_PAGE_ENTRIES_MAX = 64
/** Entries a log answer may carry: a page may run past LOG_PAGE_ENTRIES_MAX to finish one seq (a fork's entries). */
export const LOG_ANSWER_ENTRIES_MAX = LOG_PAGE_ENTRIES_MAX + 16
/** Replenishment orders in one page (they are ENTRY_BYTES_MAX at most, like entries). */
export const REPLENISHMENT_PAGE_MAX = 64
/** Heads in one announcement (a store relay announcing all its neighbours' tills). */
export const HEADS_MAX = 1_024
/** Pages one `fetchLog` / `fetchReplenishment` call follows before giving up (64 × 4,096 = 262,144 entries). */
export const PAGES_MAX = 4_096
/** Characters of an error or rejection reason on the wire (longer ones are cut). */
export const REASON_CHARS_MAX = 1_024
/** Certificates a node keeps verified for its gossip validator (VerifiedCertificates): a store hears its ring's tills, a few hundred at most. */
export const CERTIFICATES_VERIFIED_MAX = 4_096
/** Codes are short upper-case words. */
export const CODE_RE = /^[A-Z][A-Z0-9_]{0,31}$/

/**
 * Bytes of one frame's payload: a full submit (64 entries of ENTRY_BYTES_MAX) plus 64 KiB for
 * the CBOR around it. A length prefix announcing more is refused before a byte of it is
 * buffered, and the stream closed (it cannot be resynchronised).
 */
export const FRAME_BYTES_MAX = SUBMIT_ENTRIES_MAX * ENTRY_BYTES_MAX + 64 * 1024
/**
 * Bytes of one Automerge sync message (a whole till log's document goes in one, to a peer
 * that has nothing: a year of a till is ~130 KB, so this holds ~30 years).
 */
export const AM_SYNC_MESSAGE_BYTES_MAX = FRAME_BYTES_MAX - 1024
/** Bytes of the varint length prefix (5 bytes hold up to 2^35; FRAME_BYTES_MAX needs 4). */
export const LENGTH_PREFIX_BYTES_MAX = 5

/** Client: requests one long-lived stream may have in flight (more wait locally, in order). */
export const CLIENT_IN_FLIGHT_MAX = 256
/** Client: request bytes one stream may have in flight (keeps a well-behaved client under the server's pause point). */
export const CLIENT_IN_FLIGHT_BYTES_MAX = 16 * 1024 * 1024
/** Server: requests of one stream in handlers at once; past it the stream is paused (yamux back-pressure). */
export const SERVER_IN_FLIGHT_MAX = 512
/** Server: request bytes of one stream in handlers at once; past it the stream is paused. */
export const SERVER_IN_FLIGHT_BYTES_MAX = 32 * 1024 * 1024
/**
 * Server: requests and request bytes in handlers across all streams. Past either, new requests
 * are answered BUSY at once (load shedding; the client retries later) instead of holding more
 * memory: 10,000 tills each with a full 64-entry submit in flight would otherwise pin ~40 GB.
 */
export const SERVER_TOTAL_IN_FLIGHT_MAX = 16_384
export const SERVER_TOTAL_IN_FLIGHT_BYTES_MAX = 256 * 1024 * 1024
/** Server: answers queued unsent on one stream (a peer that sends but never reads); past it the stream is reset. */
export const SERVER_WRITE_BUFFER_MAX = 64 * 1024 * 1024
/** Server: bad frames tolerated on one stream before it is closed. */
export const BAD_FRAMES_PER_STREAM_MAX = 16

/** Default timeout of every client call (dial, stream, answer), in ms. */
export const CALL_TIMEOUT_MS = 10_000
/** Default time a handler may take before the server answers TIMEOUT and frees the slot. */
export const HANDLER_TIMEOUT_MS = 30_000

/** Streams per protocol per connection (one long-lived stream, plus room for one being replaced). */
export const STREAMS_PER_PROTOCOL_MAX = 8

/**
 * libp2p connection-manager settings. libp2p's defaults suit a browser or a DHT node that
 * meets a few hundred random peers; a tillbooks fleet is thousands of tills that each keep
 * one connection to HQ (and to a few neighbours), many of them arriving from one address:
 * a store relay, a NAT'd store network, or the load generator that runs 10,000 tills on one
 * host. So:
 */
export const CONNECTION_MANAGER = {
  /**
   * Default 300. HQ keeps one connection per till (10,000-till fleet) plus relays and
   * neighbours; past this libp2p prunes the least valuable. 12,000 stays under this
   * machine's 20,000 file descriptors with room for LevelDB and HTTP. Memory is bounded by
   * this × yamux/noise buffers (js-libp2p doc/LIMITS.md): idle connections cost tens of KB.
   */
  maxConnections: 12_000,
  /**
   * Default 5 per second per host, which a store relay or the one-host load generator
   * exceeds as soon as its tills reconnect after an HQ restart (the rest would be reset and
   * retry in a storm). The per-host rate limit does not fit a fleet behind NAT; the real
   * bound on handshake work is maxIncomingPendingConnections below.
   */
  inboundConnectionThreshold: 10_000,
  /**
   * Default 10. Connections still in the noise/yamux upgrade (~6 ms of CPU each here). 256
   * is ~1.5 s of handshake work on two cores, well inside inboundUpgradeTimeout, so a
   * reconnect wave queues instead of being refused ten at a time.
   */
  maxIncomingPendingConnections: 256,
  /** Default 100. A relay that forwards for a store dials HQ and its neighbours after a partition heals. */
  maxParallelDials: 256,
  /** Default 500. Dials waiting for a slot (a relay re-dialling a region); beyond it dial() waits. */
  maxDialQueueLength: 4_096,
  /** Default 10 s. Kept: one dial is bounded by the call's own timeout too. */
  dialTimeout: 10_000,
  /**
   * Default 6 s: one address's dial (TCP, noise, yamux). Kept, named here so tests can shorten
   * it; when it passes, the call opens a new stream while its own deadline has time left.
   */
  addressDialTimeout: 6_000,
  /** Default 10 s. Kept: a slow handshake under a reconnect wave still completes. */
  inboundUpgradeTimeout: 10_000
} as const

/** Pause between two tries at opening a stream to a peer that did not answer in time (within the call's own deadline). */
export const OPEN_RETRY_PAUSE_MS = 250
