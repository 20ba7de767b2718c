/**
 * Answers of the app's backend, kept for a short time so that a page reload storm or a page
 * subscribing to ten channels asks once. Bounded: the oldest answer goes first.
 */

export class AnswerCache<T> {
  private readonly answers = new Map<string, { value: T; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  get(key: string, now = Date.now()): T | undefined {
    const entry = this.answers.get(key);
    if (entry === undefined) return undefined;
    if (entry.until <= now) {
      this.answers.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Keeps `value` for the cache's time, or less when `untilMs` (an absolute time) comes first. */
  set(key: string, value: T, untilMs?: number, now = Date.now()): void {
    if (this.ttlMs <= 0) return;
    const until = Math.min(now + this.ttlMs, untilMs ?? Number.POSITIVE_INFINITY);
    if (until <= now) return;
    this.answers.delete(key);
    this.answers.set(key, { value, until });
    if (this.answers.size > this.maxEntries) this.answers.delete(this.answers.keys().next().value as string);
  }
}
