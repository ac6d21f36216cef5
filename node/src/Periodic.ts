/**
 * Work run again and again off the caller's path (a projection following the books, a replica's
 * rounds): one run at a time, each after the one before has ended, the next after the delay the
 * run answers. Its timer never holds the process open; `stop()` waits for the run in progress.
 */
export class Periodic {
  readonly #run: () => Promise<number>
  #timer: NodeJS.Timeout | null = null
  #running: Promise<void> | null = null
  #stopped = false

  /** `run` does one step and answers the delay (ms) before the next; it must not throw. */
  constructor (run: () => Promise<number>) {
    this.#run = run
  }

  get stopped (): boolean { return this.#stopped }

  start (firstMs = 0): void {
    this.#schedule(firstMs)
  }

  #schedule (ms: number): void {
    if (this.#stopped) return
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.#running = this.#run().then(next => { this.#running = null; this.#schedule(next) }, () => { this.#running = null })
    }, ms)
    this.#timer.unref()
  }

  /** Settles once no run is in progress. */
  async idle (): Promise<void> {
    while (this.#running !== null) await this.#running
  }

  async stop (): Promise<void> {
    this.#stopped = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    await this.idle()
  }
}
