/**
 * An upstream bridge: joins a feed (WebSocket or Socket.IO), maps its messages onto channels
 * and publishes them through the hub.
 *
 * Lifecycle (one state setter, `setState`, logs every change):
 *   idle ──(first holder of a channel matching `channels`, or `eager`)──▶ connecting ──▶ connected
 *   connected ──(upstream lost while wanted)──▶ reconnecting ──(backoff)──▶ connecting
 *   any ──(last holder gone for `linger`)──▶ idle         any ──(stop)──▶ stopped
 * "Holders" are what the hub reports through its channel listener: the first local subscriber or
 * long-poll waiter of a channel makes it occupied, the last one leaving makes it vacant. The
 * linger delay keeps a page reload or a polling client between requests from tearing the
 * upstream connection down and up again.
 *
 * Invariants: at most one upstream connection per bridge; it is open only while wanted; after
 * each (re)connect the `subscribe` frames are sent again. A malformed message (not JSON, or lacking
 * a field the map needs) is logged and counted, never fatal. Messages are published in the order
 * they arrive; events sent upstream while the bridge was disconnected are not recovered (the
 * upstream has no cursor Herald could resume from).
 */

import type { Logger } from "pino";
import { anyChannelMatches, backoffDelay, type BackoffOptions } from "@herald/protocol";
import type { BridgeConfig } from "../config/integrations-schema.js";
import type { ChannelChange } from "../hub/hub-listeners.js";
import { mapMessage } from "./bridge-map.js";
import { isHeraldError } from "../shared/herald-error.js";
import { openSocketIoUpstream, openWebSocketUpstream, type Upstream, type UpstreamMessage } from "./upstream.js";
import type { PublishFn } from "./postgres-outbox.js";
import { SpanKind, contextOf, endSpan, startSpan } from "../shared/tracing.js";

// Reconnects to a lost upstream: 250 ms doubling up to 15 s (docs/integrations.md).
const RECONNECT_BACKOFF: BackoffOptions = { minDelay: 250, maxDelay: 15_000, factor: 2 };

export type BridgeState = "idle" | "connecting" | "connected" | "reconnecting" | "stopped";

export interface BridgeStatus {
  readonly name: string;
  readonly protocol: BridgeConfig["protocol"];
  readonly url: string;
  readonly state: BridgeState;
  /** Local channels matching the bridge's patterns that have subscribers. */
  readonly subscribers: number;
  readonly messages: number;
  readonly published: number;
  readonly errors: number;
  readonly connects: number;
  readonly lastError: string | null;
}

export class Bridge {
  private state: BridgeState = "idle";
  private upstream: Upstream | undefined;
  private readonly holders = new Set<string>();
  private readonly wantsChannel: (channel: string) => boolean;
  private lingerTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private messages = 0;
  private published = 0;
  private errors = 0;
  private connects = 0;
  private lastError: string | null = null;
  // Publishes are chained so that events reach the hub in the order the upstream sent them.
  private publishing: Promise<void> = Promise.resolve();

  constructor(
    private readonly config: BridgeConfig,
    private readonly publish: PublishFn,
    private readonly logger: Logger,
  ) {
    this.wantsChannel = (channel) => anyChannelMatches(config.channels, channel);
  }

  get name(): string {
    return this.config.name;
  }

  start(): void {
    if (this.config.eager) this.reconcile();
  }

  /** The hub's channel listener. */
  observeChannel(change: ChannelChange): void {
    if (this.state === "stopped" || !this.wantsChannel(change.channel)) return;
    if (change.occupied) this.holders.add(change.channel);
    else this.holders.delete(change.channel);
    this.reconcile();
  }

  async stop(): Promise<void> {
    this.setState("stopped", "herald stopping");
    clearTimeout(this.lingerTimer);
    clearTimeout(this.reconnectTimer);
    this.upstream?.close();
    this.upstream = undefined;
    await this.publishing;
  }

  status(): BridgeStatus {
    return {
      name: this.config.name,
      protocol: this.config.protocol,
      url: this.config.url,
      state: this.state,
      subscribers: this.holders.size,
      messages: this.messages,
      published: this.published,
      errors: this.errors,
      connects: this.connects,
      lastError: this.lastError,
    };
  }

  private get wanted(): boolean {
    return this.config.eager || this.holders.size > 0;
  }

  private reconcile(): void {
    if (this.state === "stopped") return;
    if (this.wanted) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
      if (this.state === "idle") this.connect();
      return;
    }
    if (this.state === "idle" || this.lingerTimer) return;
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = undefined;
      if (!this.wanted) this.disconnect();
    }, this.config.linger);
    this.lingerTimer.unref();
  }

  private connect(): void {
    this.setState(this.attempt === 0 ? "connecting" : "reconnecting", "subscribers present");
    const open = this.config.protocol === "socket.io" ? openSocketIoUpstream : openWebSocketUpstream;
    const upstream: Upstream = open(this.config.url, {
      open: () => {
        if (this.upstream !== upstream) return;
        this.attempt = 0;
        this.connects += 1;
        for (const frame of this.config.subscribe) upstream.send(frame);
        this.setState("connected", "upstream open");
      },
      message: (message) => {
        if (this.upstream === upstream) this.receive(message);
      },
      closed: (reason) => {
        if (this.upstream !== upstream) return;
        this.upstream = undefined;
        this.lastError = reason;
        if (!this.wanted || this.state === "stopped") {
          this.setState("idle", `upstream closed: ${reason}`);
          return;
        }
        const delay = backoffDelay(this.attempt++, RECONNECT_BACKOFF);
        this.setState("reconnecting", `upstream closed: ${reason}; retry in ${delay} ms`);
        this.reconnectTimer = setTimeout(() => {
          this.reconnectTimer = undefined;
          if (this.wanted && this.state === "reconnecting") this.connect();
          else if (this.state !== "stopped") this.setState("idle", "no subscribers left");
        }, delay);
        this.reconnectTimer.unref();
      },
    });
    this.upstream = upstream;
  }

  private disconnect(): void {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.upstream?.close();
    this.upstream = undefined;
    this.attempt = 0;
    this.setState("idle", "no subscribers left");
  }

  private receive(message: UpstreamMessage): void {
    this.messages += 1;
    let events;
    try {
      events = mapMessage(this.config.map, message);
    } catch (error) {
      this.errors += 1;
      this.lastError = (error as Error).message;
      if (isHeraldError(error)) this.logger.warn({ err: this.lastError }, "malformed upstream message skipped");
      else this.logger.error({ err: error }, "upstream message could not be mapped");
      return;
    }
    for (const event of events) {
      this.publishing = this.publishing.then(() => {
        // While tracing is on, each bridged event starts a trace of its own: the upstream sent no context.
        const span = startSpan("herald.source.bridge", undefined, { "herald.bridge": this.config.name, "herald.channel": event.channel }, SpanKind.CONSUMER);
        return this.publish(event.channel, event.type, event.data, contextOf(span), event.tags).then(
          () => {
            endSpan(span);
            this.published += 1;
          },
          (error: Error) => {
            endSpan(span, error);
            this.errors += 1;
            this.lastError = error.message;
            this.logger.warn({ channel: event.channel, type: event.type, err: error.message }, "bridged event refused");
          },
        );
      });
    }
  }

  private setState(state: BridgeState, reason: string): void {
    if (this.state === state || this.state === "stopped") return;
    this.logger.info({ from: this.state, to: state, reason }, "bridge state");
    this.state = state;
  }
}
