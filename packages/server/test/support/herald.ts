/** Test support: a real Herald on a free port, and a WebSocket client that waits on frames. */

import { once } from "node:events";
import WebSocket from "ws";
import { decode as decodeMsgpack, encode as encodeMsgpack } from "@msgpack/msgpack";
import { createHerald, type Herald, type HeraldConfigInput, type HeraldOptions } from "@herald/server";
import { deadline } from "./deadline.js";

export interface RunningHerald {
  herald: Herald;
  /** http://127.0.0.1:PORT */
  url: string;
  /** ws://127.0.0.1:PORT */
  wsUrl: string;
  /** `Authorization: Bearer <admin token>`, for the admin surface (status detail, dashboard, admin feed). */
  adminHeaders: Record<string, string>;
  close(): Promise<void>;
}

export async function startHerald(config: HeraldConfigInput = {}, options: Omit<HeraldOptions, "config"> = {}): Promise<RunningHerald> {
  const herald = await createHerald({ ...options, config: { logLevel: "silent", ...config } });
  await herald.listen({ port: 0, host: "127.0.0.1" });
  const url = `http://127.0.0.1:${herald.port}`;
  return { herald, url, wsUrl: url.replace("http", "ws"), adminHeaders: { authorization: `Bearer ${herald.adminToken}` }, close: () => herald.close() };
}

export type Frame = Record<string, unknown> & { type?: string };

/** How a TestClient encodes frames; decoded with @msgpack/msgpack, a library the server does not use. */
export type TestFormat = "json" | "msgpack";

/** Both encodings, for protocol tests that run once per encoding. */
export const FORMATS: readonly TestFormat[] = ["json", "msgpack"];

export interface TestClientOptions extends WebSocket.ClientOptions {
  /** `msgpack` adds `format=msgpack` to the URL (unless the URL names a format) and sends MessagePack. */
  format?: TestFormat;
  /** Subprotocols to offer (ws's second argument). */
  protocols?: string[];
}

/** A WebSocket client for tests: every frame is queued, and `next` waits for the one wanted. */
export class TestClient {
  readonly frames: Frame[] = [];
  private readonly waiters: Array<{ match: (frame: Frame) => boolean; resolve: (frame: Frame) => void }> = [];
  private cursor = 0;
  closeCode: number | undefined;
  closeReason = "";
  private readonly closing: Promise<{ code: number; reason: string }>;

  /** Frames that came as text, and as binary. */
  textFrames = 0;
  binaryFrames = 0;

  private constructor(
    readonly socket: WebSocket,
    readonly format: TestFormat,
  ) {
    socket.on("message", (data, isBinary) => {
      const frame = (isBinary ? decodeMsgpack(data as Buffer) : JSON.parse(data.toString())) as Frame;
      if (isBinary) this.binaryFrames += 1;
      else this.textFrames += 1;
      this.frames.push(frame);
      this.flush();
    });
    this.closing = new Promise((resolve) => {
      socket.on("close", (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        resolve({ code, reason: this.closeReason });
      });
    });
  }

  static async open(url: string, options: TestClientOptions = {}): Promise<TestClient> {
    const { format = "json", protocols, ...wsOptions } = options;
    const target = new URL(url);
    if (format === "msgpack" && !target.searchParams.has("format") && protocols === undefined) target.searchParams.set("format", "msgpack");
    const socket = new WebSocket(target.toString(), protocols, wsOptions);
    const client = new TestClient(socket, format);
    await deadline(once(socket, "open"), `the WebSocket to ${url} to open`);
    return client;
  }

  /** The close code and reason; waiting on it fails after 10 s if the socket is still open. */
  get closed(): Promise<{ code: number; reason: string }> {
    return this.closedWithin();
  }

  /** Like `closed`, with a bound of the caller's choosing (a close due after a token's expiry + grace). */
  closedWithin(timeoutMs?: number): Promise<{ code: number; reason: string }> {
    return deadline(this.closing, () => `the WebSocket to close (last frames: ${JSON.stringify(this.frames.slice(-3))})`, timeoutMs);
  }

  /** Sends a frame in the client's encoding; a string is sent as a text frame as it is. */
  send(frame: unknown): void {
    if (typeof frame === "string") this.socket.send(frame);
    else if (this.format === "msgpack") this.socket.send(encodeMsgpack(frame));
    else this.socket.send(JSON.stringify(frame));
  }

  /** Waits for the next frame (after those already taken) that matches; fails after `timeoutMs`. */
  next(match: ((frame: Frame) => boolean) | string = () => true, timeoutMs = 5_000): Promise<Frame> {
    const predicate = typeof match === "string" ? (frame: Frame) => frame.type === match : match;
    for (let i = this.cursor; i < this.frames.length; i++) {
      const frame = this.frames[i]!;
      if (predicate(frame)) {
        this.cursor = i + 1;
        return Promise.resolve(frame);
      }
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.waiters.findIndex((w) => w.resolve === done);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new Error(`no matching frame within ${timeoutMs} ms; last frames: ${JSON.stringify(this.frames.slice(-3))}`));
      }, timeoutMs);
      const done = (frame: Frame): void => {
        clearTimeout(timer);
        resolve(frame);
      };
      this.waiters.push({ match: predicate, resolve: done });
    });
  }

  /** Collects `count` frames that match, in order. */
  async take(count: number, match: ((frame: Frame) => boolean) | string, timeoutMs = 10_000): Promise<Frame[]> {
    const out: Frame[] = [];
    const deadline = Date.now() + timeoutMs;
    while (out.length < count) out.push(await this.next(match, Math.max(1, deadline - Date.now())));
    return out;
  }

  /** Sends a subscribe and waits for its `subscribed`. */
  async subscribe(channel: string, extra: Record<string, unknown> = {}): Promise<Frame> {
    this.send({ type: "subscribe", channel, ...extra });
    return this.next((frame) => (frame.type === "subscribed" || frame.type === "error") && (frame.channel === channel || frame.type === "error"));
  }

  /** Closes; on a MessagePack connection, fails if any frame came as text (it would be JSON leaking through). */
  async close(): Promise<void> {
    if (this.format === "msgpack" && this.textFrames > 0) throw new Error(`a MessagePack connection received ${this.textFrames} text frame(s): ${JSON.stringify(this.frames.slice(0, 3))}`);
    if (this.socket.readyState === WebSocket.CLOSED) return;
    this.socket.close();
    await this.closed;
  }

  private flush(): void {
    for (let w = 0; w < this.waiters.length; w++) {
      const waiter = this.waiters[w]!;
      for (let i = this.cursor; i < this.frames.length; i++) {
        if (waiter.match(this.frames[i]!)) {
          this.cursor = i + 1;
          this.waiters.splice(w, 1);
          w -= 1;
          waiter.resolve(this.frames[i]!);
          break;
        }
      }
    }
  }
}

/** POSTs JSON and returns status and parsed body. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

export async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(url, { headers });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}
