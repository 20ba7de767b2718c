/**
 * `Idempotency-Key` on POST /api/publish: a retried request with the same key (from the same
 * credential) gets the first answer again instead of publishing twice. Answers are kept for
 * `publish.replayWindow`, at most `publish.idempotencyKeys` of them (oldest forgotten first).
 * A request still in flight is shared, so two concurrent retries store once.
 */

export class IdempotencyCache<T> {
  private readonly entries = new Map<string, { answer: Promise<T>; expiresAt: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  has(key: string, now = Date.now()): boolean {
    this.forgetExpired(now);
    return this.entries.has(key);
  }

  /** Runs `work` once per key within the window; later calls get the same answer. A failure is not kept. */
  async run(key: string, work: () => Promise<T>, now = Date.now()): Promise<{ answer: T; replayed: boolean }> {
    this.forgetExpired(now);
    const existing = this.entries.get(key);
    if (existing) return { answer: await existing.answer, replayed: true };
    if (this.maxEntries === 0) return { answer: await work(), replayed: false };
    const answer = work();
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { answer, expiresAt: now + this.ttlMs });
    try {
      return { answer: await answer, replayed: false };
    } catch (error) {
      this.entries.delete(key);
      throw error;
    }
  }

  private forgetExpired(now: number): void {
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt > now) break;
      this.entries.delete(key);
    }
  }
}
