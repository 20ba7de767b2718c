/**
 * One benchmark client per server kind, all with the same small surface: connect, subscribe to one
 * channel, hand every event to `onEvent`, and say when the subscription is confirmed.
 *
 * Event frames are recognised without parsing: every server here sends events as `{"type":"tick",…`
 * (Socket.IO as its own "tick" event, Herald's Pusher endpoint as `{"event":"tick",…`), so the
 * count-only mode never pays for JSON.parse.
 */

import WebSocket from "ws";
import { io, type Socket } from "socket.io-client";
import { Packr } from "msgpackr";
import { PUSHER_BENCH_KEY, type ServerKind } from "./protocol.js";

export interface Subscribed {
  epoch?: string;
  offset?: number;
  recovered?: boolean;
}

export interface ClientHooks {
  /** `raw` is the frame for ws clients, the decoded payload for Socket.IO. */
  onEvent(raw: Buffer | Record<string, unknown>): void;
  onSubscribed(answer: Subscribed): void;
  onClose(): void;
  onError(error: Error): void;
}

export interface BenchClient {
  close(): void;
  /** Acknowledges the newest event received since the last call, where the server keeps receipts. */
  acknowledge?(): void;
}

// `{"type":"tick"` — bytes 9..13 are `tick"`.
function isTick(data: Buffer): boolean {
  return data[9] === 0x74 && data[10] === 0x69 && data[11] === 0x63 && data[12] === 0x6b && data[13] === 0x22;
}

/**
 * Loopback has one source address per 127.0.0.x, each with its own ~28k ephemeral ports; spreading
 * clients over several avoids running out when tens of thousands of connections come and go.
 */
export function sourceAddress(index: number): string {
  return `127.0.0.${2 + (index % 200)}`;
}

// `{"event":"tick"` — bytes 10..14 are `tick"`.
function isPusherTick(data: Buffer): boolean {
  return data[10] === 0x74 && data[11] === 0x69 && data[12] === 0x63 && data[13] === 0x6b && data[14] === 0x22;
}

export function openClient(kind: ServerKind, url: string, index: number, channel: string, hooks: ClientHooks, since?: { epoch: string; offset: number }, delta = false): BenchClient {
  if (kind === "socketio") return openSocketIo(url, index, channel, hooks);
  if (kind === "herald-pusher") return openPusher(url, index, channel, hooks);
  if (kind === "herald-msgpack") return openMsgpack(url, index, channel, hooks, since);
  const path = kind === "herald" ? "/ws" : "/";
  const socket = new WebSocket(url.replace("http", "ws") + path, { localAddress: sourceAddress(index), perMessageDeflate: false });
  // Where the server keeps receipts, the newest event not yet acknowledged (parsed only when acknowledged).
  let receipts = false;
  let unacknowledged: Buffer | undefined;
  socket.on("open", () => {
    socket.send(JSON.stringify({ type: "subscribe", channel, ...(since ? { since } : {}), ...(delta ? { delta: "fossil" } : {}) }));
  });
  socket.on("message", (data: Buffer) => {
    if (isTick(data)) {
      if (receipts) unacknowledged = data;
      return hooks.onEvent(data);
    }
    const frame = JSON.parse(data.toString()) as { type?: string; receipts?: boolean } & Subscribed;
    if (frame.type === "subscribed") {
      receipts = frame.receipts === true;
      hooks.onSubscribed(frame);
    } else if (frame.type === "error") hooks.onError(new Error(data.toString()));
  });
  socket.on("close", () => hooks.onClose());
  socket.on("error", (error) => hooks.onError(error));
  return {
    close: () => socket.terminate(),
    acknowledge: () => {
      if (!unacknowledged || socket.readyState !== WebSocket.OPEN) return;
      const { offset } = JSON.parse(unacknowledged.toString()) as { offset: number };
      unacknowledged = undefined;
      socket.send(JSON.stringify({ type: "ack", channel, offset }));
    },
  };
}

const packr = new Packr({ useRecords: false, variableMapSize: true });

/**
 * Herald's protocol in MessagePack (`?format=msgpack`): every frame is decoded, events included,
 * since a binary map cannot be recognised by its first bytes the way `{"type":"tick"` can; the
 * decoded frame goes to `onEvent` as Socket.IO's payloads do.
 */
function openMsgpack(url: string, index: number, channel: string, hooks: ClientHooks, since?: { epoch: string; offset: number }): BenchClient {
  const socket = new WebSocket(`${url.replace("http", "ws")}/ws?format=msgpack`, { localAddress: sourceAddress(index), perMessageDeflate: false });
  socket.on("open", () => {
    socket.send(packr.pack(since ? { type: "subscribe", channel, since } : { type: "subscribe", channel }));
  });
  socket.on("message", (data: Buffer) => {
    const frame = packr.unpack(data) as { type?: string } & Subscribed & Record<string, unknown>;
    if (frame.type === "tick") hooks.onEvent(frame);
    else if (frame.type === "subscribed") hooks.onSubscribed(frame);
    else if (frame.type === "error") hooks.onError(new Error(JSON.stringify(frame)));
  });
  socket.on("close", () => hooks.onClose());
  socket.on("error", (error) => hooks.onError(error));
  return { close: () => socket.terminate() };
}

/** A Pusher protocol 7 client, as pusher-js speaks it: subscribe after connection_established. */
function openPusher(url: string, index: number, channel: string, hooks: ClientHooks): BenchClient {
  const socket = new WebSocket(`${url.replace("http", "ws")}/app/${PUSHER_BENCH_KEY}?protocol=7&client=js&version=8.4.0`, { localAddress: sourceAddress(index), perMessageDeflate: false });
  socket.on("message", (data: Buffer) => {
    if (isPusherTick(data)) return hooks.onEvent(data);
    const frame = JSON.parse(data.toString()) as { event?: string };
    if (frame.event === "pusher:connection_established") socket.send(JSON.stringify({ event: "pusher:subscribe", data: { channel } }));
    else if (frame.event === "pusher_internal:subscription_succeeded") hooks.onSubscribed({});
    else if (frame.event === "pusher:error" || frame.event === "pusher:subscription_error") hooks.onError(new Error(data.toString()));
  });
  socket.on("close", () => hooks.onClose());
  socket.on("error", (error) => hooks.onError(error));
  return { close: () => socket.terminate() };
}

function openSocketIo(url: string, index: number, channel: string, hooks: ClientHooks): BenchClient {
  const socket: Socket = io(url, {
    transports: ["websocket"],
    forceNew: true,
    reconnection: false,
    localAddress: sourceAddress(index),
  } as Parameters<typeof io>[1]);
  socket.on("connect", () => {
    socket.emit("subscribe", channel, (answer: Subscribed) => hooks.onSubscribed(answer));
  });
  socket.on("tick", (payload: Record<string, unknown>) => hooks.onEvent(payload));
  socket.on("disconnect", () => hooks.onClose());
  socket.on("connect_error", (error) => hooks.onError(error));
  return { close: () => socket.disconnect() };
}
