/** Resolves a channel's options from its namespace (the part before the first `:`). */

import { namespaceOf } from "@herald/protocol";
import type { HeraldConfig } from "../config/schema.js";
import type { StreamOptions } from "../engine/engine.js";

export interface ChannelOptions extends StreamOptions {
  readonly namespace: string;
  readonly presence: boolean;
  readonly clientPublish: boolean;
  /** Whether subscribers acknowledge what they handled and the hub keeps receipts (receipts.ts). */
  readonly receipts: boolean;
  /** A subscriber without `since` first gets the latest retained event (or `cache: "miss"`). */
  readonly cache: boolean;
  /** Subscribers asking for deltas get them (delta-base.ts); the hub then keeps each channel's last data. */
  readonly delta: boolean;
}

export class Namespaces {
  private readonly resolved = new Map<string, ChannelOptions>();

  constructor(private readonly config: HeraldConfig) {}

  of(channel: string): ChannelOptions {
    const namespace = namespaceOf(channel);
    let options = this.resolved.get(namespace);
    if (!options) {
      const own = this.config.namespaces[namespace];
      options = {
        namespace,
        historySize: own?.history?.size ?? this.config.history.size,
        historyTtlMs: own?.history?.ttl ?? this.config.history.ttl,
        presence: own?.presence ?? false,
        clientPublish: own?.clientPublish ?? false,
        receipts: own?.receipts ?? false,
        cache: own?.cache ?? false,
        delta: own?.delta ?? false,
      };
      this.resolved.set(namespace, options);
    }
    return options;
  }
}
