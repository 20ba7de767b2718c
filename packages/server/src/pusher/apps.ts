/** The configured Pusher apps, found by the key clients connect with or the id server SDKs call. */

import type { PusherAppConfig } from "../config/pusher-schema.js";

export interface PusherApp extends PusherAppConfig {
  /** The Herald namespace of the app's public channels (see channel-names.ts). */
  readonly namespace: string;
}

export class PusherApps {
  private readonly byKey = new Map<string, PusherApp>();
  private readonly byId = new Map<string, PusherApp>();
  /** Namespaces of the apps' private, presence and server-to-user channels, which Herald clients may not read by default. */
  readonly protectedNamespaces = new Set<string>();

  constructor(configs: readonly PusherAppConfig[]) {
    for (const config of configs) {
      const app: PusherApp = { ...config, namespace: config.namespace ?? `pusher-${config.id}` };
      this.byKey.set(app.key, app);
      this.byId.set(app.id, app);
      this.protectedNamespaces.add(`${app.namespace}-private`).add(`${app.namespace}-presence`).add(`${app.namespace}-user`);
    }
  }

  get size(): number {
    return this.byId.size;
  }

  all(): IterableIterator<PusherApp> {
    return this.byId.values();
  }

  withKey(key: string): PusherApp | undefined {
    return this.byKey.get(key);
  }

  withId(id: string): PusherApp | undefined {
    return this.byId.get(id);
  }
}
