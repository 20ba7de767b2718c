/** The load side as the runner sees it: a few worker processes that split the clients, and one publisher. */

import { Child } from "./child-process.js";
import type { ConnectResult, PublisherRequest, PublisherResult, ReceiveMode, ServerKind, StormResult, WorkerReport } from "../load/protocol.js";
import { HISTOGRAM_BUCKETS } from "../load/protocol.js";

export interface LoadTotals {
  received: number;
  minPerClient: number;
  firstAt: number;
  lastAt: number;
  histogram: number[];
  lost: number;
  duplicates: number;
  closedByServer: number;
  cpuMicros: number;
  /** WebSocket message payload bytes of the events received. */
  bytes: number;
  /** CPU µs of the busiest worker, to tell whether one load process ran out of core. */
  workerCpuMicros: number[];
}

export class Load {
  private publisherCpuMicros = 0;

  private constructor(
    private readonly workers: Child[],
    private readonly publisher: Child,
  ) {}

  static async start(workerCount: number): Promise<Load> {
    const workers = await Promise.all(Array.from({ length: workerCount }, (_, i) => Child.start(`load worker ${i}`, "load/worker.ts")));
    const publisher = await Child.start("publisher", "load/publisher.ts");
    return new Load(workers.map((started) => started.child), publisher.child);
  }

  /** Opens `count` clients split over the workers; `channel` may hold `{i}` for the client index. */
  async connect(kind: ServerKind, urls: string[], count: number, channel: string, mode: ReceiveMode, append = false, offset = 0, delta = false): Promise<ConnectResult> {
    const share = Math.ceil(count / this.workers.length);
    const results = await Promise.all(
      this.workers.map((worker, w) => {
        const first = w * share;
        const n = Math.max(0, Math.min(share, count - first));
        // Indexes are global, so `user:{i}` channels and source addresses do not collide across workers.
        return worker.request<ConnectResult>({ cmd: "connect", kind, urls, first: offset + first, count: n, channel, mode, append, delta });
      }),
    );
    return {
      connected: results.reduce((sum, r) => sum + r.connected, 0),
      failed: results.reduce((sum, r) => sum + r.failed, 0),
      firstError: results.find((r) => r.firstError)?.firstError,
    };
  }

  async reset(mode: ReceiveMode): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.request({ cmd: "reset", mode })));
  }

  async totals(finalOffset?: number): Promise<LoadTotals> {
    const reports = await Promise.all(this.workers.map((worker) => worker.request<WorkerReport>({ cmd: "report", finalOffset })));
    const histogram = new Array<number>(HISTOGRAM_BUCKETS).fill(0);
    for (const report of reports) report.histogram.forEach((n, i) => (histogram[i]! += n));
    const active = reports.filter((r) => r.clients > 0);
    return {
      received: reports.reduce((sum, r) => sum + r.received, 0),
      minPerClient: Math.min(...active.map((r) => r.minPerClient)),
      firstAt: Math.min(...reports.map((r) => r.firstAt).filter((t) => t > 0)),
      lastAt: Math.max(...reports.map((r) => r.lastAt)),
      histogram,
      lost: reports.reduce((sum, r) => sum + r.lost, 0),
      duplicates: reports.reduce((sum, r) => sum + r.duplicates, 0),
      closedByServer: reports.reduce((sum, r) => sum + r.closedByServer, 0),
      cpuMicros: reports.reduce((sum, r) => sum + r.cpuMicros, 0),
      bytes: reports.reduce((sum, r) => sum + r.bytes, 0),
      workerCpuMicros: reports.map((r) => r.cpuMicros),
    };
  }

  /**
   * Waits until the clients hold `expected` events, or nothing arrived for `stallMs` (then the
   * shortfall is what was lost). Returns the last totals.
   */
  async settle(expected: number, stallMs: number, finalOffset?: number): Promise<LoadTotals> {
    let totals = await this.totals(finalOffset);
    let lastProgress = Date.now();
    let lastCount = totals.received;
    while (totals.received < expected && Date.now() - lastProgress < stallMs) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      totals = await this.totals(finalOffset);
      if (totals.received !== lastCount) {
        lastCount = totals.received;
        lastProgress = Date.now();
      }
    }
    return totals;
  }

  async storm(): Promise<StormResult> {
    const results = await Promise.all(this.workers.map((worker) => worker.request<StormResult>({ cmd: "storm" })));
    return {
      recoveryMs: Math.max(...results.map((r) => r.recoveryMs)),
      recovered: results.reduce((sum, r) => sum + r.recovered, 0),
      notRecovered: results.reduce((sum, r) => sum + r.notRecovered, 0),
      failed: results.reduce((sum, r) => sum + r.failed, 0),
    };
  }

  /** Runs one publishing job; its `cpuMicros` is the publisher's CPU during that job alone. */
  async publish(request: PublisherRequest): Promise<PublisherResult> {
    const result = await this.publisher.request<PublisherResult>(request);
    const total = result.cpuMicros;
    result.cpuMicros = total - this.publisherCpuMicros;
    this.publisherCpuMicros = total;
    return result;
  }

  async closeClients(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.request({ cmd: "close" })));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.workers, this.publisher].map((child) => child.stop()));
  }
}
