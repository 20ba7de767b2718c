/**
 * Publish API keys, and who counts as the backend. Keys are compared in constant time (over
 * SHA-256 digests, so lengths do not leak either).
 *
 * A loopback caller counts as the backend only when nothing else is configured to say who the
 * backend is (no API key and no HMAC key), and only for publishing: a fresh install is usable from
 * the same machine and closed to everyone else. Behind a reverse proxy on the same host every
 * client arrives from loopback, so loopback must never be worth more than that.
 */

import { createHash, timingSafeEqual } from "node:crypto";
import type { HeraldConfig } from "../config/schema.js";

export type KeyCheck = { ok: true; keyName: string } | { ok: false; message: string };

type PublishConfig = Pick<HeraldConfig["publish"], "apiKeys"> & Partial<HeraldConfig["publish"]>;

const digest = (text: string): Buffer => createHash("sha256").update(text).digest();

export class ApiKeys {
  private readonly keys: Array<{ name: string; digest: Buffer }>;
  private readonly hmacConfigured: boolean;

  constructor(config: PublishConfig) {
    this.keys = config.apiKeys.map((entry, index) =>
      typeof entry === "string" ? { name: `key${index + 1}`, digest: digest(entry) } : { name: entry.name, digest: digest(entry.key) },
    );
    this.hmacConfigured = (config.hmacKeys?.length ?? 0) > 0;
  }

  get configured(): boolean {
    return this.keys.length > 0;
  }

  /** True when nothing is configured to say who the backend is, so loopback callers may publish. */
  get loopbackPublishes(): boolean {
    return !this.configured && !this.hmacConfigured;
  }

  /**
   * Who may publish: the key in `authorization`, or a loopback caller without any Authorization
   * header when `loopbackPublishes`. A header that is not a configured key is refused, loopback or not.
   */
  check(authorization: string | undefined, remoteAddress: string | undefined): KeyCheck {
    if (authorization !== undefined) return this.verify(authorization);
    if (this.loopbackPublishes) {
      if (isLoopback(remoteAddress)) return { ok: true, keyName: "loopback" };
      return { ok: false, message: "no API key is configured, so only loopback callers may do this; set HERALD_API_KEYS and send Authorization: Bearer <key>" };
    }
    if (!this.configured) return { ok: false, message: "this hub takes signed requests only: send X-Herald-Key-Id, X-Herald-Timestamp and X-Herald-Signature (see docs/security.md)" };
    return { ok: false, message: "send the API key as Authorization: Bearer <key>" };
  }

  /** Checks an Authorization header as an API key, wherever the request comes from. */
  verify(authorization: string): KeyCheck {
    if (!this.configured) {
      const instead = this.hmacConfigured ? "sign the request instead (see docs/security.md)" : "send no Authorization header from loopback, or set HERALD_API_KEYS";
      return { ok: false, message: `the API key is not valid: this hub has no publish.apiKeys; ${instead}` };
    }
    const match = /^Bearer\s+(.+)$/i.exec(authorization);
    if (!match) return { ok: false, message: "send the API key as Authorization: Bearer <key>" };
    const given = digest(match[1]!.trim());
    let found: string | undefined;
    for (const key of this.keys) if (timingSafeEqual(given, key.digest)) found ??= key.name;
    return found === undefined ? { ok: false, message: "the API key is not valid" } : { ok: true, keyName: found };
  }

  /** The publish posture in force, in words (the start-up banner prints it). */
  describe(): string {
    const keys = `${this.keys.length} API key(s)`;
    if (this.configured && this.hmacConfigured) return `${keys} or HMAC-signed requests`;
    if (this.configured) return keys;
    if (this.hmacConfigured) return "HMAC-signed requests only";
    return "loopback only (no API key or HMAC key configured; set HERALD_API_KEYS or HERALD_HMAC_KEYS)";
  }
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}
