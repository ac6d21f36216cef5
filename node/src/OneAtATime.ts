/**
 * Work run one at a time, in the order it was asked for: each starts once the one before has
 * settled, whether it succeeded or not. For state that is read, awaited on (a disk write, a
 * processor), then written: two such operations interleaved would each write over what the
 * other learnt (the same document number twice, a payment marked approved again).
 */
export class OneAtATime {
  #tail: Promise<unknown> = Promise.resolve()
  #waiting = 0

  /** Run `work` after everything asked for before it; its result or its error. */
  async run<T> (work: () => Promise<T>): Promise<T> {
    this.#waiting++
    const run = this.#tail.then(work, work)
    this.#tail = run.then(() => {}, () => {})
    try {
      return await run
    } finally {
      this.#waiting--
    }
  }

  /** Whether work asked for has not settled yet (running or waiting its turn). */
  get busy (): boolean {
    return this.#waiting > 0
  }

  /** Settles once everything asked for so far has (never rejects). */
  async idle (): Promise<void> {
    await this.#tail
  }
}
