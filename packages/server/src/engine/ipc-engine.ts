/**
 * An engine that lives in another process, reached over IPC: with `herald serve --workers N` and the
 * memory engine, the primary process holds the one MemoryEngine (see engine-host.ts) and each worker
 * uses it through this class, so every worker shares one set of streams, offsets, presence entries
 * and idempotency records.
 *
 * Each contract method is forwarded by name and answered by the host; the host pushes each event
 * of a channel once to every worker holding that channel, whatever its number of subscribers. IPC
 * keeps the order of messages, so events reach `onEvent` in offset order (contract point 3).
 *
 * Honesty (point 5): a call that could not be sent (the primary is gone) rejects with
 * engine_unavailable; a publish sent before the pipe closed may have been stored, so it rejects with
 * engine_timeout.
 *
 * Control (point 7): a survey goes to the host, which asks every worker, this one included, with
 * CONTROL_METHOD and gathers the answers (see EngineHost).
 */

import type { EventTags, StreamPosition } from "@herald/protocol";
import {
  ENGINE_TIMEOUT,
  ENGINE_UNAVAILABLE,
  type Engine,
  type EngineHandler,
  type EngineStatus,
  type EventSender,
  type HistoryQuery,
  type HistoryResult,
  type IdempotencyKey,
  type IdempotencyRecord,
  type PresenceEntry,
  type DueItem,
  type PublishedEvent,
  type Receipt,
  type StreamEvent,
  type StreamOptions,
  type SurveyResult,
} from "./engine.js";
import { HeraldError, isHeraldError } from "../shared/herald-error.js";
import { PIPE_CLOSED, type IpcPeer } from "../shared/ipc-peer.js";

/** The engine methods a host serves, each as `engine.<method>`; what both ends agree on. */
export const FORWARDED_METHODS = ["publish", "recall", "subscribe", "unsubscribe", "history", "position", "addPresence", "removePresence", "presence", "joinPresence", "leavePresence", "survey", "userConnect", "userDisconnect", "claimOffline", "acknowledge", "receipts", "schedule", "claimDue", "completeDue"] as const;
export type ForwardedMethod = (typeof FORWARDED_METHODS)[number];

/** Notices a host sends to its workers, and the call that lets go of a worker's holdings. */
export const HOST_NOTICES = { event: "engine.event", events: "engine.events", gap: "engine.gap", availability: "engine.availability" } as const;
export const RELEASE_METHOD = "engine.release";
/** What the host calls on each worker for a survey: the worker's own part of the request. */
export const CONTROL_METHOD = "engine.control";

export class IpcEngine implements Engine {
  private handler: EngineHandler | undefined;

  /** `name` is the served engine's, as /api/status shows it. */
  constructor(
    private readonly peer: IpcPeer,
    readonly name: string,
  ) {
    peer.handle(HOST_NOTICES.event, (event: StreamEvent) => this.handler?.onEvent(event));
    peer.handle(HOST_NOTICES.events, (events: StreamEvent[]) => {
      for (const event of events) this.handler?.onEvent(event);
    });
    peer.handle(HOST_NOTICES.gap, (channel: string) => this.handler?.onGap?.(channel));
    peer.handle(HOST_NOTICES.availability, (available: boolean) => this.handler?.onAvailabilityChange?.(available && peer.connected));
    peer.handle(CONTROL_METHOD, (request: unknown) => {
      if (!this.handler?.onControl) throw new Error("this worker's engine is not started");
      return this.handler.onControl(request);
    });
    peer.onClose(() => this.handler?.onAvailabilityChange?.(false));
  }

  async start(handler: EngineHandler): Promise<void> {
    this.handler = handler;
  }

  /** Tells the host to let go of this process's subscriptions and presence entries. */
  async close(): Promise<void> {
    this.handler = undefined;
    if (this.peer.connected) await this.peer.call(RELEASE_METHOD).catch(() => undefined);
  }

  publish(channel: string, type: string, data: unknown, options: StreamOptions, idempotency?: IdempotencyKey, sender?: EventSender, trace?: string, tags?: EventTags): Promise<PublishedEvent> {
    return this.forward("publish", channel, type, data, options, idempotency, sender, trace, tags) as Promise<PublishedEvent>;
  }

  recall(channel: string, key: string): Promise<IdempotencyRecord | undefined> {
    return this.forward("recall", channel, key) as Promise<IdempotencyRecord | undefined>;
  }

  async subscribe(channel: string): Promise<void> {
    await this.forward("subscribe", channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    await this.forward("unsubscribe", channel);
  }

  history(channel: string, query: HistoryQuery, options: StreamOptions): Promise<HistoryResult> {
    return this.forward("history", channel, query, options) as Promise<HistoryResult>;
  }

  position(channel: string, options: StreamOptions): Promise<StreamPosition> {
    return this.forward("position", channel, options) as Promise<StreamPosition>;
  }

  async addPresence(channel: string, entry: PresenceEntry): Promise<void> {
    await this.forward("addPresence", channel, entry);
  }

  async removePresence(channel: string, connectionId: string): Promise<void> {
    await this.forward("removePresence", channel, connectionId);
  }

  presence(channel: string): Promise<PresenceEntry[]> {
    return this.forward("presence", channel) as Promise<PresenceEntry[]>;
  }

  joinPresence(channel: string, entry: PresenceEntry): Promise<PresenceEntry[]> {
    return this.forward("joinPresence", channel, entry) as Promise<PresenceEntry[]>;
  }

  leavePresence(channel: string, connectionId: string): Promise<PresenceEntry[]> {
    return this.forward("leavePresence", channel, connectionId) as Promise<PresenceEntry[]>;
  }

  userConnect(user: string, connectionId: string, graceMs: number): Promise<boolean> {
    return this.forward("userConnect", user, connectionId, graceMs) as Promise<boolean>;
  }

  async userDisconnect(connectionId: string): Promise<void> {
    await this.forward("userDisconnect", connectionId);
  }

  claimOffline(): Promise<string[]> {
    return this.forward("claimOffline") as Promise<string[]>;
  }

  async acknowledge(channel: string, reader: string, epoch: string, offset: number, options: StreamOptions): Promise<void> {
    await this.forward("acknowledge", channel, reader, epoch, offset, options);
  }

  receipts(channel: string, epoch: string, reader?: string): Promise<Receipt[]> {
    return this.forward("receipts", channel, epoch, reader) as Promise<Receipt[]>;
  }

  async schedule(queue: string, id: string, dueAt: number, payload: string): Promise<void> {
    await this.forward("schedule", queue, id, dueAt, payload);
  }

  claimDue(queue: string, limit: number, leaseMs: number): Promise<DueItem[]> {
    return this.forward("claimDue", queue, limit, leaseMs) as Promise<DueItem[]>;
  }

  async completeDue(queue: string, id: string): Promise<void> {
    await this.forward("completeDue", queue, id);
  }

  survey(request: unknown): Promise<SurveyResult> {
    return this.forward("survey", request) as Promise<SurveyResult>;
  }

  status(): EngineStatus {
    return { name: this.name, available: this.peer.connected, details: { servedBy: "the primary process (herald serve --workers)" } };
  }

  private async forward(method: ForwardedMethod, ...args: unknown[]): Promise<unknown> {
    try {
      return await this.peer.call(`engine.${method}`, ...args);
    } catch (error) {
      if (!isHeraldError(error) || error.detail !== PIPE_CLOSED) throw error;
      if (error.code === "engine_timeout" && method === "publish") {
        throw new HeraldError("engine_timeout", ENGINE_TIMEOUT, { cause: error, detail: "the primary process went away before it confirmed the publish" });
      }
      throw new HeraldError("engine_unavailable", ENGINE_UNAVAILABLE, { cause: error, detail: "the primary process, which holds the engine, is gone" });
    }
  }
}
