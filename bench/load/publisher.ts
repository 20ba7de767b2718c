/**
 * The publishing side of the load: POSTs {channel,type,data} to /api/publish, the same endpoint
 * shape on every server, to each node of a multi-node server in turn. Each event's data carries its
 * publish time (`t`, monotonic ms) so that receivers measure publish→receive latency, and a
 * sequence number.
 */

import { Agent, request } from "node:http";
import { nowMs, type PublisherRequest, type PublisherResult } from "./protocol.js";
import { Wallet } from "./wallet.js";

let agent = new Agent({ keepAlive: true, maxSockets: 64 });
let seq = 0;
/** Each channel's wallet, kept across requests so that the measured events follow the warm-up's. */
const walletsByChannel = new Map<string, Wallet>();

/** Publishes one event to each of `channels`: one request, a batch (`events`) when there are several. */
function post(url: string, channels: string | string[], walletsByChannel?: Map<string, Wallet>): Promise<number> {
  const data = (channel: string): Record<string, unknown> => {
    const wallet = walletsByChannel && (walletsByChannel.get(channel) ?? walletsByChannel.set(channel, new Wallet(channel)).get(channel)!);
    return wallet ? wallet.next(nowMs(), ++seq) : { t: nowMs(), seq: ++seq };
  };
  const event = (channel: string) => ({ channel, type: "tick", data: data(channel) });
  const body = JSON.stringify(typeof channels === "string" ? event(channels) : { events: channels.map(event) });
  return new Promise((resolve, reject) => {
    const req = request(`${url}/api/publish`, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        if (res.statusCode !== 200) return reject(new Error(`publish answered ${res.statusCode}: ${Buffer.concat(chunks).toString()}`));
        const answer = JSON.parse(Buffer.concat(chunks).toString()) as { published: Array<{ offset: number }> };
        resolve(answer.published[0]?.offset ?? 0);
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

let turn = 0;

/** The server's nodes in turn, so that each gets an equal share of the publishes. */
function nextUrl(urls: string[]): string {
  return urls[turn++ % urls.length]!;
}

function randomUser(users: number): string {
  return `user:${Math.floor(Math.random() * users)}`;
}

function cpuMicros(): number {
  const cpu = process.cpuUsage();
  return cpu.user + cpu.system;
}

/**
 * `count` publishes, each lane waiting for its answer before the next: the server sets the pace.
 * Several lanes let publishes arrive together, as they do from a busy backend.
 */
async function burst(urls: string[], target: (issued: number) => string, count: number, concurrency: number, walletsOf?: Map<string, Wallet>): Promise<PublisherResult> {
  const startAt = nowMs();
  let lastOffset = 0;
  let failed = 0;
  let issued = 0;
  const lane = async (): Promise<void> => {
    while (issued < count) {
      const channel = target(issued);
      issued += 1;
      try {
        lastOffset = Math.max(lastOffset, await post(nextUrl(urls), channel, walletsOf));
      } catch {
        failed += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return { published: count - failed, failed, startAt, endAt: nowMs(), lastOffset, cpuMicros: cpuMicros() };
}

/**
 * Keeps `concurrency` publishes in flight until `durationMs` is over. With `rate`, publishes are
 * also spaced to that many per second (an open loop, as long as the server keeps up).
 */
async function loop(urls: string[], pick: () => string, durationMs: number, concurrency: number, rate?: number, batch = 1): Promise<PublisherResult> {
  const startAt = nowMs();
  const endAt = startAt + durationMs;
  let published = 0;
  let failed = 0;
  let issued = 0;
  let lastOffset = 0;
  const lane = async (): Promise<void> => {
    for (;;) {
      if (rate !== undefined) {
        // The issued-th publish is due at startAt + issued/rate.
        const due = startAt + (issued / rate) * 1e3;
        if (due >= endAt) return;
        issued += 1;
        const wait = due - nowMs();
        if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      } else if (nowMs() >= endAt) return;
      try {
        lastOffset = Math.max(lastOffset, await post(nextUrl(urls), batch === 1 ? pick() : Array.from({ length: batch }, pick)));
        published += batch;
      } catch {
        failed += batch;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return { published, failed, startAt, endAt: nowMs(), lastOffset, cpuMicros: cpuMicros() };
}

async function handle(message: PublisherRequest): Promise<PublisherResult> {
  switch (message.cmd) {
    case "burst":
      return burst(message.urls, () => message.channel, message.count, message.concurrency ?? 1);
    case "rate":
      return loop(message.urls, message.users ? () => randomUser(message.users!) : () => message.channel, message.durationMs, message.concurrency, message.rate);
    case "saturate":
      return loop(message.urls, () => randomUser(message.users), message.durationMs, message.concurrency, undefined, message.batch);
    case "wallets":
      // The channels in turn: with more channels than lanes, a channel's events go one after the
      // other, so each changes the previous event of its channel by a few fields, as deltas expect.
      return burst(message.urls, (issued) => message.channel.replace("{i}", String(issued % message.channels)), message.count, message.concurrency, walletsByChannel);
  }
}

process.on("message", (message: { id: number; request: PublisherRequest }) => {
  if ((message.request as { cmd: string }).cmd === "stop") return process.exit(0);
  // A new server per run: do not reuse keep-alive sockets to the previous one.
  agent.destroy();
  agent = new Agent({ keepAlive: true, maxSockets: 64 });
  handle(message.request).then(
    (result) => process.connected && process.send!({ id: message.id, result }),
    (error: unknown) => process.connected && process.send!({ id: message.id, error: String(error) }),
  );
});
process.on("disconnect", () => process.exit(0));
process.send!({ ready: true });
