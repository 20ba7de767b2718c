/**
 * A load process: holds a share of the benchmark's clients and counts what they receive.
 * The runner drives it over IPC (see protocol.ts); it exits when the runner disconnects, so a
 * crashed run never leaves load behind.
 */

import { openClient, type BenchClient } from "./clients.js";
import { bucketOf, HISTOGRAM_BUCKETS, nowMs, type ConnectResult, type ReceiveMode, type ServerKind, type StormResult, type WorkerReport, type WorkerRequest } from "./protocol.js";

/** Connections opened at once per worker: enough to be quick, few enough not to overflow the accept backlog. */
const CONNECT_CONCURRENCY = 200;

interface Slot {
  client: BenchClient | undefined;
  channel: string;
  received: number;
  epoch: string;
  lastOffset: number;
  /** Pusher frames carry no offset: the publisher's sequence numbers seen, to count duplicates. */
  seen?: Set<number>;
  closed: boolean;
  /** Called once when the connection closes (the storm waits on it). */
  whenClosed?: () => void;
}

let kind: ServerKind = "herald";
let urls: string[] = [];
let mode: ReceiveMode = "count";
let slots: Slot[] = [];
let histogram = new Array<number>(HISTOGRAM_BUCKETS).fill(0);
let firstAt = 0;
let lastAt = 0;
let lost = 0;
let duplicates = 0;
let closedByServer = 0;
let bytes = 0;
/** Subscribe with `delta: "fossil"` (the delta scenario). */
let delta = false;
let closing = false;
let firstIndex = 0;

function resetCounters(next: ReceiveMode): void {
  mode = next;
  histogram = new Array<number>(HISTOGRAM_BUCKETS).fill(0);
  firstAt = 0;
  lastAt = 0;
  lost = 0;
  duplicates = 0;
  bytes = 0;
  for (const slot of slots) {
    slot.received = 0;
    slot.seen = undefined;
  }
}

function receive(slot: Slot, raw: Buffer | Record<string, unknown>): void {
  const now = nowMs();
  if (firstAt === 0) firstAt = now;
  lastAt = now;
  slot.received += 1;
  if (Buffer.isBuffer(raw)) bytes += raw.length;
  if (mode === "count") return;
  if (kind === "herald-pusher") return receivePusher(slot, raw as Buffer);
  const frame = (Buffer.isBuffer(raw) ? JSON.parse(raw.toString()) : raw) as { data: { t: number }; offset: number; epoch?: string };
  if (mode === "latency") {
    histogram[bucketOf(now - frame.data.t)]! += 1;
    return;
  }
  // offsets: each offset once, in order.
  if (frame.offset <= slot.lastOffset) duplicates += 1;
  else lost += frame.offset - slot.lastOffset - 1;
  slot.lastOffset = Math.max(slot.lastOffset, frame.offset);
}

/**
 * A Pusher event: `data` is a JSON string. Without offsets, only duplicates can be told here (by the
 * publisher's sequence number); the runner counts a shortfall at the end as lost.
 */
function receivePusher(slot: Slot, raw: Buffer): void {
  const data = JSON.parse((JSON.parse(raw.toString()) as { data: string }).data) as { t: number; seq: number };
  if (mode === "latency") {
    histogram[bucketOf(nowMs() - data.t)]! += 1;
    return;
  }
  slot.seen ??= new Set();
  if (slot.seen.has(data.seq)) duplicates += 1;
  else slot.seen.add(data.seq);
}

/** Opens one client and resolves once its subscription is confirmed (or it failed). */
function open(slot: Slot, index: number, since?: { epoch: string; offset: number }): Promise<{ ok: boolean; recovered?: boolean; error?: string }> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: { ok: boolean; recovered?: boolean; error?: string }): void => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    slot.closed = false;
    slot.client = openClient(kind, urls[index % urls.length]!, index, slot.channel, {
      onEvent: (raw) => receive(slot, raw),
      onSubscribed: (answer) => {
        if (answer.epoch !== undefined) slot.epoch = answer.epoch;
        // A fresh subscription starts at the channel's current offset; a recovered one keeps its own.
        if (!since && answer.offset !== undefined) slot.lastOffset = answer.offset;
        settle({ ok: true, recovered: answer.recovered });
      },
      onClose: () => {
        slot.closed = true;
        slot.whenClosed?.();
        slot.whenClosed = undefined;
        if (!closing && settled) closedByServer += 1;
        settle({ ok: false, error: "closed before subscribed" });
      },
      onError: (error) => settle({ ok: false, error: error.message }),
    }, since, delta);
  });
}

/** Runs `task` over indexes with at most CONNECT_CONCURRENCY at once. */
async function pooled<T>(count: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, count) }, lane));
  return results;
}

async function connect(request: Extract<WorkerRequest, { cmd: "connect" }>): Promise<ConnectResult> {
  kind = request.kind;
  urls = request.urls;
  delta = request.delta === true;
  closing = false;
  closedByServer = 0;
  if (!request.append) {
    firstIndex = request.first;
    slots = [];
  }
  resetCounters(request.mode);
  const added: Slot[] = Array.from({ length: request.count }, (_, i) => ({
    client: undefined,
    channel: request.channel.replace("{i}", String(request.first + i)),
    received: 0,
    epoch: "",
    lastOffset: 0,
    closed: false,
  }));
  slots.push(...added);
  const results = await pooled(added.length, (i) => open(added[i]!, request.first + i));
  const failed = results.filter((result) => !result.ok);
  return { connected: results.length - failed.length, failed: failed.length, firstError: failed[0]?.error };
}

/** Drops every connection at once, then reconnects each one resuming from its last offset. */
async function storm(): Promise<StormResult> {
  closing = true;
  const dropped = slots.map((slot) => new Promise<void>((resolve) => {
    if (slot.closed) return resolve();
    const client = slot.client;
    slot.client = undefined;
    slot.whenClosed = resolve;
    client?.close();
  }));
  const start = nowMs();
  await Promise.all(dropped);
  closing = false;
  const results = await pooled(slots.length, (i) => open(slots[i]!, firstIndex + i, { epoch: slots[i]!.epoch, offset: slots[i]!.lastOffset }));
  return {
    recoveryMs: nowMs() - start,
    recovered: results.filter((result) => result.ok && result.recovered).length,
    notRecovered: results.filter((result) => result.ok && !result.recovered).length,
    failed: results.filter((result) => !result.ok).length,
  };
}

function report(finalOffset: number | undefined): WorkerReport {
  let received = 0;
  let min = Infinity;
  let max = 0;
  let tail = 0;
  for (const slot of slots) {
    received += slot.received;
    min = Math.min(min, slot.received);
    max = Math.max(max, slot.received);
    if (finalOffset !== undefined && kind !== "herald-pusher" && slot.lastOffset < finalOffset) tail += finalOffset - slot.lastOffset;
  }
  const cpu = process.cpuUsage();
  return {
    clients: slots.length,
    received,
    minPerClient: slots.length === 0 ? 0 : min,
    maxPerClient: max,
    firstAt,
    lastAt,
    histogram,
    lost: lost + tail,
    duplicates,
    closedByServer,
    cpuMicros: cpu.user + cpu.system,
    bytes,
  };
}

async function handle(request: WorkerRequest): Promise<unknown> {
  switch (request.cmd) {
    case "connect":
      return connect(request);
    case "reset":
      resetCounters(request.mode);
      return { ok: true };
    case "report":
      return report(request.finalOffset);
    case "storm":
      return storm();
    case "close":
      closing = true;
      for (const slot of slots) slot.client?.close();
      slots = [];
      return { ok: true };
  }
}

process.on("message", (message: { id: number; request: WorkerRequest }) => {
  if ((message.request as { cmd: string }).cmd === "stop") return process.exit(0);
  handle(message.request).then(
    (result) => process.connected && process.send!({ id: message.id, result }),
    (error: unknown) => process.connected && process.send!({ id: message.id, error: String(error) }),
  );
});
process.on("disconnect", () => process.exit(0));

// Acknowledgements as the client SDK batches them: at most one per channel every half second.
setInterval(() => {
  for (const slot of slots) slot.client?.acknowledge?.();
}, 500).unref();
process.send!({ ready: true });
