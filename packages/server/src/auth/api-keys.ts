/**
 * Publish API keys. Keys are compared in constant time (over SHA-256 digests, so lengths do not
 * leak either). With no key configured, only loopback callers may publish: a fresh install is
 * usable from the same machine and closed to everyone else.
 */

import { createHash, timingSafeEqual } from "node:crypto";
import type { HeraldConfig } from "../config/schema.js";

export type KeyCheck = { ok: true; keyName: string } | { ok: false; message: string };

const digest = (text: string): Buffer => createHash("sha256").update(text).digest();

export class ApiKeys {
  private readonly keys: Array<{ name: string; digest: Buffer }>;

  constructor(config: Pick<HeraldConfig["publish"], "apiKeys"> & Partial<HeraldConfig["publish"]>) {
    this.keys = config.apiKeys.map((entry, index) =>
      typeof entry === "string" ? { name: `key${index + 1}`, digest: digest(entry) } : { name: entry.name, digest: digest(entry.key) },
    );
  }

  get configured(): boolean {
    return this.keys.length > 0;
  }

  /** Checks the `Authorization: Bearer <key>` header of a request from `remoteAddress`. */
  check(authorization: string | undefined, remoteAddress: string | undefined): KeyCheck {
    if (!this.configured) {
      if (isLoopback(remoteAddress)) return { ok: true, keyName: "loopback" };
      return { ok: false, message: "no API key is configured, so only loopback callers may do this; set HERALD_API_KEYS and send Authorization: Bearer <key>" };
    }
    const match = /^Bearer\s+(.+)$/i.exec(authorization ?? "");
    if (!match) return { ok: false, message: "send the API key as Authorization: Bearer <key>" };
    const given = digest(match[1]!.trim());
    let found: string | undefined;
    for (const key of this.keys) if (timingSafeEqual(given, key.digest)) found ??= key.name;
    return found === undefined ? { ok: false, message: "the API key is not valid" } : { ok: true, keyName: found };
  }
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}
