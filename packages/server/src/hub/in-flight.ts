/**
 * Work a graceful shutdown waits for before it closes connections: every publish between being
 * accepted and being answered (the hub's engine call, and for HTTP the request until its answer
 * is written), so that each publish is either answered or never stored.
 */
export class InFlight {
  private readonly pending = new Set<Promise<unknown>>();

  /** Tracks `work` until it settles; returns it unchanged. */
  track<T>(work: Promise<T>): Promise<T> {
    this.pending.add(work);
    const forget = (): void => void this.pending.delete(work);
    work.then(forget, forget);
    return work;
  }

  get size(): number {
    return this.pending.size;
  }

  /**
   * Resolves once nothing is in flight (work tracked while waiting included), or when `timeoutMs`
   * has passed; true when everything settled.
   */
  async settled(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      while (this.pending.size > 0) {
        const done = await Promise.race([Promise.allSettled([...this.pending]).then(() => true), deadline]);
        if (!done) return false;
        // Let the continuations of what settled (sending the answers) run before reporting.
        await new Promise((resolve) => setImmediate(resolve));
      }
      return true;
    } finally {
      clearTimeout(timer);
    }
  }
}
