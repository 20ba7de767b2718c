/**
 * Pusher's HTTP API on Herald's port, for the Pusher server SDKs: trigger events on one or several
 * channels or in a batch, and read which channels are occupied, their counts and a presence
 * channel's users. Every request is signed (request-signing.ts). Triggered events are published
 * to the hub under their channels' Herald names, so Herald clients receive them too, with history.
 *
 *   POST /apps/{id}/events          {name, data, channels | channel, socket_id?, info?}
 *   POST /apps/{id}/batch_events    {batch: [{name, data, channel, socket_id?, info?}, …]}
 *   GET  /apps/{id}/channels        ?filter_by_prefix=&info=subscription_count,user_count
 *   GET  /apps/{id}/channels/{name} ?info=subscription_count,user_count
 *   GET  /apps/{id}/channels/{name}/users
 *   POST /apps/{id}/users/{user}/terminate_connections
 *
 * A request is validated whole before anything is published. Counts are those of Pusher
 * subscriptions on every node (occupancy.ts).
 */

import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Hub } from "../hub/hub.js";
import { HeraldError } from "../shared/herald-error.js";
import type { PusherApp, PusherApps } from "./apps.js";
import { channelKind, heraldChannel, pusherChannel, pusherChannelProblem, userIdProblem } from "./channel-names.js";
import { heraldData, heraldEventType } from "./event-mapping.js";
import { membersOf } from "./members.js";
import type { Occupancy } from "./occupancy.js";
import { verifySignedRequest } from "./request-signing.js";
import { hubUser } from "./user-signin.js";

export interface PusherHttpApiOptions {
  readonly hub: Hub;
  readonly apps: PusherApps;
  readonly occupancy: Occupancy;
  /** Ends every connection of a hub user on every node (the server API's disconnect). */
  disconnect(user: string, options: { reason: string }): Promise<unknown>;
  /** False once shutdown began: triggers are refused with 503. */
  accepting(): boolean;
}

/** Pusher's limits on one request. */
const MAX_CHANNELS_PER_EVENT = 100;
const MAX_BATCH = 10;
const MAX_EVENT_NAME = 200;
const SOCKET_ID = /^\d+\.\d+$/;
const INFO = new Set(["subscription_count", "user_count"]);

interface Trigger {
  readonly channels: string[];
  readonly type: string;
  readonly data: unknown;
  readonly socketId: string | undefined;
  readonly info: string[];
}

export function registerPusherHttpApi(http: FastifyInstance, options: PusherHttpApiOptions): void {
  const { hub, occupancy } = options;

  /** The app a request is for, once its signature is checked. */
  function appOf(request: FastifyRequest): PusherApp {
    const app = options.apps.withId((request.params as { appId: string }).appId);
    if (!app) throw new HeraldError("not_found", "no Pusher app with this id");
    const [path, query = ""] = (request.raw.url ?? "").split("?", 2) as [string, string?];
    verifySignedRequest(app, { method: request.method, path, query: new URLSearchParams(query), body: request.rawBody });
    if (!app.enabled) throw new HeraldError("forbidden", "this app is disabled");
    return app;
  }

  async function counts(channel: string, info: readonly string[]): Promise<Record<string, number>> {
    if (info.length === 0) return {};
    const entries = await occupancy.subscriptions(channel);
    const answer: Record<string, number> = {};
    if (info.includes("subscription_count")) answer.subscription_count = entries.length;
    if (info.includes("user_count")) answer.user_count = membersOf(entries).length;
    return answer;
  }

  async function publish(app: PusherApp, triggers: readonly Trigger[]): Promise<Array<Record<string, Record<string, number>>>> {
    if (!options.accepting()) throw new HeraldError("shutting_down", "this node is shutting down and publishes nothing more; retry on another node");
    const answers = [];
    for (const trigger of triggers) {
      const sender = trigger.socketId === undefined ? undefined : { connectionId: trigger.socketId };
      const channels: Record<string, Record<string, number>> = {};
      for (const name of trigger.channels) {
        const channel = heraldChannel(app, name);
        await hub.publish(channel, trigger.type, trigger.data, undefined, sender);
        // user_count is a presence channel's figure only.
        const info = trigger.info.filter((what) => what !== "user_count" || channelKind(name) === "presence");
        if (trigger.info.length > 0) channels[name] = await counts(channel, info);
      }
      answers.push(channels);
    }
    return answers;
  }

  http.post("/apps/:appId/events", async (request) => {
    const app = appOf(request);
    const trigger = readTrigger(request.body, app, "body");
    const [channels] = await publish(app, [trigger]);
    return trigger.info.length > 0 ? { channels } : {};
  });

  http.post("/apps/:appId/batch_events", async (request) => {
    const app = appOf(request);
    const batch = (request.body as { batch?: unknown } | null)?.batch;
    if (!Array.isArray(batch) || batch.length === 0) throw new HeraldError("invalid_body", "batch must be a non-empty array of events");
    if (batch.length > MAX_BATCH) throw new HeraldError("invalid_body", `a batch holds at most ${MAX_BATCH} events; it holds ${batch.length}`);
    const triggers = batch.map((entry, index) => readTrigger(entry, app, `batch[${index}]`));
    const answers = await publish(app, triggers);
    if (!triggers.some((trigger) => trigger.info.length > 0)) return {};
    return { batch: answers.map((channels) => Object.values(channels)[0] ?? {}) };
  });

  http.get("/apps/:appId/channels", async (request) => {
    const app = appOf(request);
    const query = request.query as Record<string, unknown>;
    const prefix = typeof query.filter_by_prefix === "string" ? query.filter_by_prefix : "";
    const info = readInfo(query.info);
    if (info.includes("user_count") && !prefix.startsWith("presence-")) throw new HeraldError("invalid_param", "info=user_count needs filter_by_prefix=presence-");
    const channels: Record<string, Record<string, number>> = {};
    for (const channel of await occupancy.channels(app)) {
      const name = pusherChannel(app, channel);
      if (name === undefined || !name.startsWith(prefix)) continue;
      channels[name] = await counts(channel, info);
    }
    return { channels };
  });

  http.get("/apps/:appId/channels/:channel", async (request) => {
    const app = appOf(request);
    const name = channelParam(request);
    const info = readInfo((request.query as Record<string, unknown>).info);
    if (info.includes("user_count") && channelKind(name) !== "presence") throw new HeraldError("invalid_param", "info=user_count is for presence channels");
    const entries = await occupancy.subscriptions(heraldChannel(app, name));
    return { occupied: entries.length > 0, ...(await counts(heraldChannel(app, name), info)) };
  });

  http.get("/apps/:appId/channels/:channel/users", async (request) => {
    const app = appOf(request);
    const name = channelParam(request);
    if (channelKind(name) !== "presence") throw new HeraldError("invalid_param", "users are listed for presence channels only");
    const members = membersOf(await occupancy.subscriptions(heraldChannel(app, name)));
    return { users: members.map((member) => ({ id: member.user })) };
  });

  http.post("/apps/:appId/users/:userId/terminate_connections", async (request) => {
    const app = appOf(request);
    const userId = (request.params as { userId: string }).userId;
    const problem = userIdProblem(userId);
    if (problem) throw new HeraldError("invalid_param", problem);
    await options.disconnect(hubUser(app, userId), { reason: "Connection terminated by the server" });
    return {};
  });
}

function channelParam(request: FastifyRequest): string {
  const name = (request.params as { channel: string }).channel;
  const problem = pusherChannelProblem(name);
  if (problem) throw new HeraldError("invalid_channel", problem);
  return name;
}

function readInfo(value: unknown): string[] {
  if (value === undefined || value === "") return [];
  if (typeof value !== "string") throw new HeraldError("invalid_param", "info is a comma-separated list");
  const info = value.split(",").map((item) => item.trim()).filter((item) => item.length > 0);
  const unknown = info.find((item) => !INFO.has(item));
  if (unknown !== undefined) throw new HeraldError("invalid_param", `info may list subscription_count and user_count; not ${JSON.stringify(unknown.slice(0, 40))}`);
  return info;
}

function readTrigger(body: unknown, app: PusherApp, where: string): Trigger {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new HeraldError("invalid_body", `${where} must be a JSON object: {name, data, channels}`);
  const { name, data, channels, channel, socket_id: socketId, info } = body as Record<string, unknown>;
  if (typeof name !== "string" || name.length === 0 || name.length > MAX_EVENT_NAME) throw new HeraldError("invalid_body", `${where}.name must be an event name of 1 to ${MAX_EVENT_NAME} characters`);
  if (name.startsWith("pusher:") || name.startsWith("pusher_internal:")) throw new HeraldError("invalid_body", `${where}.name: pusher: and pusher_internal: events are the protocol's own`);
  const type = heraldEventType(name);
  if (type === undefined) throw new HeraldError("invalid_event_type", `${where}.name does not fit Herald's event types (see docs/pusher.md: names up to 64 characters, 45 when they need base64)`);
  if (data === undefined) throw new HeraldError("invalid_body", `${where}.data is missing`);
  const text = typeof data === "string" ? data : JSON.stringify(data);
  const bytes = Buffer.byteLength(text);
  if (bytes > app.maxEventBytes) throw new HeraldError("payload_too_large", `${where}.data is ${bytes} bytes; this app's limit is ${app.maxEventBytes}`);
  let names: unknown[];
  if (channels !== undefined) {
    if (!Array.isArray(channels) || channels.length === 0) throw new HeraldError("invalid_body", `${where}.channels must be a non-empty array`);
    if (channels.length > MAX_CHANNELS_PER_EVENT) throw new HeraldError("invalid_body", `${where}.channels: at most ${MAX_CHANNELS_PER_EVENT} channels per event`);
    names = channels;
  } else if (channel !== undefined) {
    names = [channel];
  } else {
    throw new HeraldError("invalid_body", `${where}: give channels (or channel)`);
  }
  for (const target of names) {
    const problem = pusherChannelProblem(target);
    if (problem) throw new HeraldError("invalid_channel", `${where}: ${problem}`);
  }
  if (socketId !== undefined && (typeof socketId !== "string" || !SOCKET_ID.test(socketId))) throw new HeraldError("invalid_param", `${where}.socket_id must look like 1234.5678`);
  return { channels: names as string[], type, data: typeof data === "string" ? heraldData(data) : data, socketId: socketId as string | undefined, info: readInfo(info) };
}
