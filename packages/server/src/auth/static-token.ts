/** One shared connection token for small deployments, compared in constant time. */

import { createHash, timingSafeEqual } from "node:crypto";

const digest = (text: string): Buffer => createHash("sha256").update(text).digest();

export class StaticToken {
  private readonly expected: Buffer;

  constructor(token: string) {
    this.expected = digest(token);
  }

  /** Compares SHA-256 digests so that neither the content nor the length leaks through timing. */
  matches(token: string): boolean {
    return timingSafeEqual(digest(token), this.expected);
  }
}
