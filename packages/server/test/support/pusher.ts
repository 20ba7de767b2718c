/**
 * Test support for the Pusher front door: a Herald with Pusher apps, the real `pusher` server SDK
 * pointed at it, and the real pusher-js (its Node build) as the client, with its channel
 * authorizations signed by the SDK as an app's auth endpoint would sign them.
 */

import PusherServer from "pusher";
import PusherJsModule from "pusher-js";
import type { Channel, ChannelAuthorizationCallback, PresenceChannel } from "pusher-js";
import type { HeraldConfigInput } from "@herald/server";
import { deadline } from "./deadline.js";
import { startHerald, type RunningHerald } from "./herald.js";
import type { NodeProcess } from "./node-process.js";

// pusher-js is CommonJS typed as an ES module: at run time its default import is the class itself.
// Under NodeNext resolution its types put the class at `.default`, under Bundler (the dashboard's tests) they do not.
type PusherJsClass = typeof PusherJsModule extends { default: infer Class } ? Class : typeof PusherJsModule;
const PusherJs = PusherJsModule as unknown as PusherJsClass;
type PusherJs = InstanceType<PusherJsClass>;

export interface TestApp {
  readonly id: string;
  readonly key: string;
  readonly secret: string;
  readonly clientEvents?: boolean;
}

export const APP: TestApp = { id: "app1", key: "app1-key", secret: "app1-secret-0123456789", clientEvents: true };
export const OTHER_APP: TestApp = { id: "app2", key: "app2-key", secret: "app2-secret-0123456789" };

/** A Herald to talk to: one in this process, or a node started as a child process. */
export type PusherTarget = RunningHerald | NodeProcess;

function portOf(target: PusherTarget): number {
  return "herald" in target ? target.herald.port : Number(new URL(target.url).port);
}

/** A Herald with APP and OTHER_APP (and whatever `config` adds). */
export function startPusherHerald(config: HeraldConfigInput = {}): Promise<RunningHerald> {
  return startHerald({ ...config, pusher: { apps: [APP, OTHER_APP], ...config.pusher } });
}

/** The `pusher` server SDK for an app, talking to a Herald's HTTP API. */
export function serverSdk(running: PusherTarget, app: TestApp = APP, options: { encryptionMasterKeyBase64?: string } = {}): PusherServer {
  return new PusherServer({ appId: app.id, key: app.key, secret: app.secret, host: "127.0.0.1", port: String(portOf(running)), useTLS: false, ...options });
}

export interface PusherClientOptions {
  readonly app?: TestApp;
  /** The presence member this client's authorizer names. */
  readonly user?: { user_id: string | number; user_info?: unknown };
  /** The user its user authentication endpoint signs in (pusher:signin), with the SDK's authenticateUser. */
  readonly signinAs?: { id: string } & Record<string, unknown>;
  /** The master key its auth endpoint derives encrypted channels' shared secrets from. */
  readonly encryptionMasterKeyBase64?: string;
}

/** pusher-js connected to a Herald, as a browser app would be (its auth endpoint signs with the SDK). */
export class PusherClient {
  readonly pusher: PusherJs;
  readonly errors: unknown[] = [];

  private constructor(running: PusherTarget, options: PusherClientOptions) {
    const app = options.app ?? APP;
    const signer = serverSdk(running, app, options.encryptionMasterKeyBase64 === undefined ? {} : { encryptionMasterKeyBase64: options.encryptionMasterKeyBase64 });
    const signinAs = options.signinAs;
    this.pusher = new PusherJs(app.key, {
      cluster: "local",
      ...(signinAs
        ? { userAuthentication: { endpoint: "/unused", transport: "ajax", customHandler: ({ socketId }: { socketId: string }, callback: (error: Error | null, data: { auth: string; user_data: string }) => void) => callback(null, signer.authenticateUser(socketId, signinAs)) } }
        : {}),
      wsHost: "127.0.0.1",
      wsPort: portOf(running),
      forceTLS: false,
      enabledTransports: ["ws"],
      channelAuthorization: {
        endpoint: "/unused",
        transport: "ajax",
        customHandler: ({ socketId, channelName }: { socketId: string; channelName: string }, callback: ChannelAuthorizationCallback) => {
          // Laravel's authorizers name users by number; the SDK's types only say string.
          const member = (options.user ?? { user_id: "anonymous" }) as { user_id: string; user_info?: Record<string, unknown> };
          callback(null, channelName.startsWith("presence-") ? signer.authorizeChannel(socketId, channelName, member) : signer.authorizeChannel(socketId, channelName));
        },
      },
    });
    this.pusher.connection.bind("error", (error: unknown) => this.errors.push(error));
  }

  static async connect(running: PusherTarget, options: PusherClientOptions = {}): Promise<PusherClient> {
    const client = new PusherClient(running, options);
    await deadline(new Promise<void>((resolve) => client.pusher.connection.bind("connected", () => resolve())), "pusher-js to connect");
    return client;
  }

  get socketId(): string {
    return this.pusher.connection.socket_id;
  }

  /** Subscribes and waits for subscription_succeeded; rejects with the subscription_error's data. */
  subscribe<T extends Channel = Channel>(name: string): Promise<T> {
    const channel = this.pusher.subscribe(name) as T;
    return deadline(
      new Promise<T>((resolve, reject) => {
        channel.bind("pusher:subscription_succeeded", () => resolve(channel));
        channel.bind("pusher:subscription_error", (error: unknown) => reject(Object.assign(new Error(`subscription_error: ${JSON.stringify(error)}`), { data: error })));
      }),
      `subscription_succeeded on ${name}`,
    );
  }

  subscribePresence(name: string): Promise<PresenceChannel> {
    return this.subscribe<PresenceChannel>(name);
  }

  disconnect(): void {
    this.pusher.disconnect();
  }
}

/** Everything bound on one event of a channel, in order. */
export function collect(channel: Channel, event: string): Array<{ data: unknown; metadata: unknown }> {
  const seen: Array<{ data: unknown; metadata: unknown }> = [];
  channel.bind(event, (data: unknown, metadata: unknown) => seen.push({ data, metadata }));
  return seen;
}

/** Resolves once `condition()` holds (checked every 20 ms); fails with `what` after the deadline. */
export async function until(what: string, condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Waits a little for things that must NOT happen (an echo, a duplicate) to have had their chance. */
export const settle = (ms = 300): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
