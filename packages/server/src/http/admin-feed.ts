/**
 * The admin live feed behind the dashboard:
 *
 *   GET /api/admin/events    Server-Sent Events, one `data:` line per event published on this node
 *                            ({type, channel, data, offset, epoch, timestamp}, the wire frame,
 *                            and `traceId` while tracing is on)
 *   GET /api/admin/channels  {channels: [{channel, subscribers}]}: channels this node holds
 *
 * Both need the admin guard. The feed listens to `hub.listeners` 'published', so it can never
 * delay or fail a publish: each event is serialised once for all watchers, and a watcher that
 * reads slower than events arrive has events dropped (counted, and reported to it as a `dropped`
 * SSE event once its socket drains) rather than buffered without bound or slowing the hub.
 */

import type { FastifyInstance } from "fastify";
import type { HttpContext } from "../transports/http-context.js";
import { ADMIN_ONLY } from "../auth/admin-guard.js";
import type { StreamEvent } from "../engine/engine.js";
import { PreparedEvent } from "../hub/prepared-event.js";
import { HeraldError } from "../shared/herald-error.js";
import { SseHeartbeat, SseStream } from "../transports/sse-stream.js";

/** Bytes a watcher's socket may hold unsent before events for it are dropped. */
const WATCHER_BUFFER_BYTES = 1024 * 1024;

/** An admin watching the feed; behind it drops events rather than slow or buffer without bound. */
class Watcher {
  /** Events dropped since the last `dropped` notice. */
  private dropped = 0;

  constructor(readonly stream: SseStream) {}

  send(data: string): void {
    if (this.stream.backlog > WATCHER_BUFFER_BYTES) {
      this.dropped += 1;
      return;
    }
    if (this.dropped > 0) {
      this.stream.record("dropped", JSON.stringify({ count: this.dropped }));
      this.dropped = 0;
    }
    this.stream.record(undefined, data);
  }

  ping(): void {
    if (this.stream.backlog <= WATCHER_BUFFER_BYTES) this.stream.ping();
  }
}

export function registerAdminFeed(app: FastifyInstance, context: HttpContext): { close(): void } {
  const heartbeat = new SseHeartbeat<Watcher>(context.config.pingInterval);
  const watchers = heartbeat.streams;
  let stopListening: (() => void) | undefined;

  const onPublished = (event: StreamEvent): void => {
    // Serialised once for every watcher, as the wire frame clients get (its traceId included while tracing is on).
    const data = new PreparedEvent(event).text("herald");
    for (const watcher of watchers) watcher.send(data);
  };

  const guard = (request: { raw: import("node:http").IncomingMessage }): void => {
    if (!context.security.admin.allows(request.raw)) throw new HeraldError("unauthorized", ADMIN_ONLY);
  };

  app.get("/api/admin/events", async (request, reply) => {
    guard(request);
    if (!context.accepting()) throw new HeraldError("shutting_down", "this node is shutting down");
    reply.hijack();
    const stream = new SseStream(reply.raw);
    stream.open();
    stream.record("hello", JSON.stringify({ node: context.node, version: context.version }));
    const watcher = new Watcher(stream);
    watchers.add(watcher);
    stopListening ??= context.hub.listeners.on("published", onPublished);
    request.raw.on("close", () => {
      watchers.delete(watcher);
      if (watchers.size === 0) {
        stopListening?.();
        stopListening = undefined;
      }
    });
  });

  app.get("/api/admin/channels", async (request) => {
    guard(request);
    const channels = context.hub.channelList().sort((a, b) => b.subscribers - a.subscribers || a.channel.localeCompare(b.channel));
    return { node: context.node, channels };
  });

  return {
    close() {
      heartbeat.stop();
      stopListening?.();
      stopListening = undefined;
      for (const watcher of watchers) watcher.stream.end();
      watchers.clear();
    },
  };
}
