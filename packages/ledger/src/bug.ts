/**
 * A broken invariant of our own (never bad input): crash loudly. Written `if (!ok) bug(msg)`
 * rather than `invariant(ok, msg)` wherever the message is a template: the check then costs
 * a branch, and the message is only built when it fails. That matters on the fold's hot
 * path, where every sum is checked.
 */
export function bug (message: string): never {
  throw new Error(`invariant broken: ${message}`)
}
