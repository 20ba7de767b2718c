/**
 * Serves one engine to worker processes over IPC: the primary side of IpcEngine. With
 * `herald serve --workers N` and the memory engine, the primary holds the MemoryEngine here and every
 * worker's calls reach it, so all workers act on one set of streams.
 *
 * Calls are forwarded by name (FORWARDED_METHODS) to the engine; subscribe, unsubscribe and
 * presence are also recorded per worker, so that a worker that dies or closes leaves nothing
 * behind: its subscriptions are undone and its connections leave presence and stop counting their
 * users online (each user then goes offline after its grace, unless it came back on another worker).
 *
 * Fan-out stays cheap: the engine delivers each event here once, and the host sends it once to
 * each worker holding the channel (one IPC message per publish per worker); the worker fans out
 * to its own subscribers.
 *
 * Surveys (contract point 7): every worker is a node of its own (its own connections), so a
 * worker's survey is answered here by asking every worker that has not let go of the engine, the
 * asking one first; one that does not answer within SURVEY_TIMEOUT_MS, or fails, counts as missing.
 */

import type { Engine, PresenceEntry, StreamEvent, SurveyResult } from "./engine.js";
import { CONTROL_METHOD, FORWARDED_METHODS, HOST_NOTICES, RELEASE_METHOD } from "./ipc-engine.js";
import type { IpcPeer } from "../shared/ipc-peer.js";

/** What one worker holds: subscribe counts by channel, and its presence entries' connection ids by channel. */
interface Holdings {
  readonly subscriptions: Map<string, number>;
  readonly presence: Map<string, Set<string>>;
  /** Connections it counted as a user's (userConnect). */
  readonly users: Set<string>;
  /** Set once the worker let go of the engine (closed it): it is no longer surveyed. */
  released: boolean;
}

/** How long a survey waits for a worker's answer, in ms (the Redis engine's command timeout). */
const SURVEY_TIMEOUT_MS = 5_000;

export class EngineHost {
  private readonly workers = new Map<IpcPeer, Holdings>();
  /** The workers holding each channel, for routing its events. */
  private readonly holders = new Map<string, Set<IpcPeer>>();

  constructor(private readonly engine: Engine) {}

  get name(): string {
    return this.engine.name;
  }

  async start(): Promise<void> {
    await this.engine.start({
      onEvent: (event) => {
        const holders = this.holders.get(event.channel);
        if (holders) for (const peer of holders) this.queue(peer, event);
      },
      onGap: (channel) => {
        this.flush();
        const holders = this.holders.get(channel);
        if (holders) for (const peer of holders) peer.notify(HOST_NOTICES.gap, channel);
      },
      onAvailabilityChange: (available) => {
        for (const peer of this.workers.keys()) peer.notify(HOST_NOTICES.availability, available);
      },
    });
  }

  /**
   * A turn's events go to each worker in one message, so that a worker fans them out in one turn
   * of its own and its sockets get them in one write each (websocket-session.ts coalesces a
   * turn's events); sent one by one they reached the workers spread over turns, and each worker
   * wrote every event to every socket on its own.
   */
  private readonly outgoing = new Map<IpcPeer, StreamEvent[]>();
  private flushScheduled = false;

  private queue(peer: IpcPeer, event: StreamEvent): void {
    const events = this.outgoing.get(peer);
    if (events) events.push(event);
    else this.outgoing.set(peer, [event]);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const [peer, events] of this.outgoing) {
      if (events.length === 1) peer.notify(HOST_NOTICES.event, events[0]);
      else peer.notify(HOST_NOTICES.events, events);
    }
    this.outgoing.clear();
  }

  async close(): Promise<void> {
    await this.engine.close();
  }

  /** Serves the engine to one worker; what it holds is released when its pipe closes. */
  serve(peer: IpcPeer): void {
    const holdings: Holdings = { subscriptions: new Map(), presence: new Map(), users: new Set(), released: false };
    this.workers.set(peer, holdings);
    const engine = this.engine as unknown as Record<string, (...args: unknown[]) => unknown>;
    for (const method of FORWARDED_METHODS) peer.handle(`engine.${method}`, (...args: unknown[]) => engine[method]!.apply(this.engine, args));
    // What a worker holds is also recorded, so these replace their plain forwarding.
    peer.handle("engine.subscribe", (channel: string) => this.subscribe(peer, holdings, channel));
    peer.handle("engine.unsubscribe", (channel: string) => this.unsubscribe(peer, holdings, channel));
    peer.handle("engine.addPresence", async (channel: string, entry: PresenceEntry) => {
      await this.engine.addPresence(channel, entry);
      joined(holdings, channel, entry.connectionId);
    });
    peer.handle("engine.joinPresence", async (channel: string, entry: PresenceEntry) => {
      const entries = await this.engine.joinPresence(channel, entry);
      joined(holdings, channel, entry.connectionId);
      return entries;
    });
    peer.handle("engine.removePresence", (channel: string, connectionId: string) => {
      left(holdings, channel, connectionId);
      return this.engine.removePresence(channel, connectionId);
    });
    peer.handle("engine.leavePresence", (channel: string, connectionId: string) => {
      left(holdings, channel, connectionId);
      return this.engine.leavePresence(channel, connectionId);
    });
    peer.handle("engine.userConnect", (user: string, connectionId: string, graceMs: number) => {
      holdings.users.add(connectionId);
      return this.engine.userConnect(user, connectionId, graceMs);
    });
    peer.handle("engine.userDisconnect", (connectionId: string) => {
      holdings.users.delete(connectionId);
      return this.engine.userDisconnect(connectionId);
    });
    peer.handle("engine.survey", (request: unknown) => this.survey(peer, request));
    peer.handle(RELEASE_METHOD, () => {
      holdings.released = true;
      return this.release(peer, holdings);
    });
    peer.onClose(() => void this.release(peer, holdings).finally(() => this.workers.delete(peer)));
  }

  private async subscribe(peer: IpcPeer, holdings: Holdings, channel: string): Promise<void> {
    // Routed before the engine's answer: an event published meanwhile reaches the worker early,
    // which the contract allows (the hub de-duplicates by offset), rather than not at all.
    holdings.subscriptions.set(channel, (holdings.subscriptions.get(channel) ?? 0) + 1);
    let holders = this.holders.get(channel);
    if (!holders) this.holders.set(channel, (holders = new Set()));
    holders.add(peer);
    try {
      await this.engine.subscribe(channel);
    } catch (error) {
      this.forget(peer, holdings, channel);
      throw error;
    }
  }

  private async unsubscribe(peer: IpcPeer, holdings: Holdings, channel: string): Promise<void> {
    // After a release the worker may still send the unsubscribes of its closing connections.
    if (!holdings.subscriptions.has(channel)) return;
    this.forget(peer, holdings, channel);
    await this.engine.unsubscribe(channel);
  }

  /** Takes back one subscribe of `peer` to `channel`. */
  private forget(peer: IpcPeer, holdings: Holdings, channel: string): void {
    const count = (holdings.subscriptions.get(channel) ?? 0) - 1;
    if (count > 0) {
      holdings.subscriptions.set(channel, count);
      return;
    }
    holdings.subscriptions.delete(channel);
    const holders = this.holders.get(channel);
    holders?.delete(peer);
    if (holders?.size === 0) this.holders.delete(channel);
  }

  /** Asks every worker that still uses the engine to handle `request`, `asker` first. */
  private async survey(asker: IpcPeer, request: unknown): Promise<SurveyResult> {
    const peers = [asker, ...[...this.workers].filter(([peer, holdings]) => peer !== asker && !holdings.released).map(([peer]) => peer)];
    const outcomes = await Promise.all(
      peers.map((peer) =>
        new Promise<{ answer: unknown } | undefined>((resolve) => {
          const timer = setTimeout(() => resolve(undefined), SURVEY_TIMEOUT_MS);
          timer.unref();
          peer.call(CONTROL_METHOD, request).then(
            (answer) => resolve({ answer: answer ?? null }),
            () => resolve(undefined),
          ).finally(() => clearTimeout(timer));
        }),
      ),
    );
    const answers = outcomes.flatMap((outcome) => (outcome ? [outcome.answer] : []));
    return { answers, missing: outcomes.length - answers.length };
  }

  /** Undoes everything a worker holds: every subscribe it made, every presence entry it added. */
  private async release(peer: IpcPeer, holdings: Holdings): Promise<void> {
    const work: Array<Promise<unknown>> = [];
    for (const [channel, count] of [...holdings.subscriptions]) {
      for (let i = 0; i < count; i++) {
        this.forget(peer, holdings, channel);
        work.push(this.engine.unsubscribe(channel));
      }
    }
    for (const [channel, ids] of [...holdings.presence]) {
      for (const id of ids) work.push(this.engine.removePresence(channel, id));
    }
    holdings.presence.clear();
    for (const id of holdings.users) work.push(this.engine.userDisconnect(id));
    holdings.users.clear();
    await Promise.all(work.map((promise) => promise.catch(() => undefined)));
  }
}

function joined(holdings: Holdings, channel: string, connectionId: string): void {
  let ids = holdings.presence.get(channel);
  if (!ids) holdings.presence.set(channel, (ids = new Set()));
  ids.add(connectionId);
}

function left(holdings: Holdings, channel: string, connectionId: string): void {
  const ids = holdings.presence.get(channel);
  ids?.delete(connectionId);
  if (ids?.size === 0) holdings.presence.delete(channel);
}
