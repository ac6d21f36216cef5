/** The libp2p network layer: TillbooksPeer and the tillbooks wire protocols (see README.md). */
export {
  TillbooksPeer, NetError, RefusedError, BusyError,
  type PeerInit, type PeerStats, type CallOptions, type LogHead, type SubmitAnswer,
  type SubmitHandler, type LogHandler, type HeadsHandler, type ReplenishmentHandler, type AmSyncHandler
} from './TillbooksPeer.ts'
export { PROTOCOLS, type ProtocolName } from './messages.ts'
export * as netLimits from './limits.ts'
