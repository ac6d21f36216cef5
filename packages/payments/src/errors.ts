/** Every refusal of bad input in this package: a reason a person can act on. */
export class PaymentsError extends Error {
  override name = 'PaymentsError'
}

/** One problem in a file, where it is. */
export interface FileProblem { line: number, column: string | null, reason: string }

/** A settlement file or bank statement refused whole: nothing of it is booked. */
export class SettlementFileError extends PaymentsError {
  override name = 'SettlementFileError'
  readonly problems: FileProblem[]
  /** Set when the file is refused because a batch's lines do not add up to its control total. */
  readonly kind: 'batch_control_mismatch' | null
  constructor (message: string, problems: FileProblem[] = [], kind: 'batch_control_mismatch' | null = null) {
    super(problems.length === 0 ? message : `${message}: ${problems.slice(0, 3).map(p => `line ${p.line}${p.column !== null ? ` (${p.column})` : ''}: ${p.reason}`).join('; ')}${problems.length > 3 ? `; and ${problems.length - 3} more` : ''}`)
    this.problems = problems
    this.kind = kind
  }
}
