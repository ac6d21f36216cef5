/** The multi-node launcher: `tillbooks net` (registerNetCommand), and runNet for tests and scripts. */
export { registerNetCommand } from './command.ts'
export { runNet, survivors, type NetOptions, type NetResult } from './launcher.ts'
export { formatNetResult } from './report.ts'
