/**
 * The admin live feed behind the dashboard:
 *
 *   GET /api/admin/events    Server-Sent Events, one `data:` line per event published on this node
 *                            ({type, channel, data, offset, epoch, timestamp}, the wire frame)
 *   GET /api/admin/channels  {channels: [{channel, subscribers}]}: channels this node holds
 *
 * Both need the admin guard. The feed listens to `hub.listeners` 'published', so it can never
 * delay or fail a publish: each event is serialised once for all watchers, and a watcher that
 * reads slower than events arrive has events dropped (counted, and reported to it as a `dropped`
 * SSE event once its socket drains) rather than buffered without bound or slowing the hub.
 */

import type { ServerResponse } from "node:http";
import type { FastifyInstance } from "fastify";
import type { HttpContext } from "../transports/http-context.js";
import { HttpError } from "../transports/http-error.js";
import { ADMIN_ONLY } from "../auth/admin-guard.js";
import type { StreamEvent } from "../engine/engine.js";

/** Bytes a watcher's socket may hold unsent before events for it are dropped. */
const WATCHER_BUFFER_BYTES = 1024 * 1024;
const HEARTBEAT_MS = 15_000;

interface Watcher {
  readonly response: ServerResponse;
  /** Events dropped since the last `dropped` notice. */
  dropped: number;
  corked: boolean;
}

export function registerAdminFeed(app: FastifyInstance, context: HttpContext): { close(): void } {
  const watchers = new Set<Watcher>();
  let stopListening: (() => void) | undefined;

  const onPublished = (event: StreamEvent): void => {
    const frame = { type: event.type, channel: event.channel, data: event.data, offset: event.offset, epoch: event.epoch, timestamp: new Date(event.time).toISOString() };
    const chunk = `data: ${JSON.stringify(frame)}\n\n`;
    for (const watcher of watchers) write(watcher, chunk);
  };

  const write = (watcher: Watcher, chunk: string): void => {
    const { response } = watcher;
    if (response.writableLength > WATCHER_BUFFER_BYTES) {
      watcher.dropped += 1;
      return;
    }
    if (watcher.dropped > 0) {
      response.write(`event: dropped\ndata: ${JSON.stringify({ count: watcher.dropped })}\n\n`);
      watcher.dropped = 0;
    }
    // Many events in one turn leave as one write.
    if (!watcher.corked) {
      watcher.corked = true;
      response.cork();
      process.nextTick(() => {
        watcher.corked = false;
        response.uncork();
      });
    }
    response.write(chunk);
  };

  const heartbeat = setInterval(() => {
    for (const watcher of watchers) if (watcher.response.writableLength <= WATCHER_BUFFER_BYTES) watcher.response.write(": ping\n\n");
  }, HEARTBEAT_MS);
  heartbeat.unref();

  const guard = (request: { raw: import("node:http").IncomingMessage }): void => {
    if (!context.security.admin.allows(request.raw)) throw new HttpError("unauthorized", ADMIN_ONLY);
  };

  app.get("/api/admin/events", async (request, reply) => {
    guard(request);
    if (!context.accepting()) throw new HttpError("shutting_down", "this node is shutting down");
    reply.hijack();
    reply.raw.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    reply.raw.write(`retry: 1000\nevent: hello\ndata: ${JSON.stringify({ node: context.node, version: context.version })}\n\n`);
    const watcher: Watcher = { response: reply.raw, dropped: 0, corked: false };
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
      clearInterval(heartbeat);
      stopListening?.();
      stopListening = undefined;
      for (const watcher of watchers) watcher.response.end();
      watchers.clear();
    },
  };
}
