/**
 * Work run one at a time, in the order it was asked for: each starts once the one before has
 * settled, whether it succeeded or not. For state that is read, awaited on (a disk write, a
 * processor), then written: two such operations interleaved would each write over what the
 * other learnt (the same document number twice, a payment marked approved again).
 */
export class OneAtATime {
  #tail: Promise<unknown> = Promise.resolve()

  /** Run `work` after everything asked for before it; its result or its error. */
  async run<T> (work: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(work, work)
    this.#tail = run.then(() => {}, () => {})
    return await run
  }

  /** Settles once everything asked for so far has (never rejects). */
  async idle (): Promise<void> {
    await this.#tail
  }
}
