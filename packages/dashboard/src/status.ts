/**
 * `/api/status`, polled every two seconds, turned into rates: events published and delivered per
 * second (and delivered per transport) between consecutive samples, the last five minutes kept.
 */

export type Transport = "websocket" | "sse" | "polling";

export interface Status {
  node: string;
  version: string;
  uptime: number;
  engine?: { name: string; available: boolean };
  connections?: number;
  subscriptions?: number;
  channels?: number;
  users?: number;
  transports?: Record<Transport, { connections: number; delivered: number; bytesSent: number }>;
  events?: { published: number; delivered: number };
  slowConsumerDisconnects?: number;
  /** Every worker of `herald serve --workers`, and every node sharing a Redis engine. */
  workers?: GroupFigures;
  cluster?: GroupFigures;
  errors?: Record<string, number>;
  integrations?: Record<string, unknown>;
  detail?: string;
}

export interface GroupFigures {
  count: number;
  missing: number;
  totals: { connections: number; subscriptions: number; channels: number; users: number };
  nodes: Array<{ node: string; connections: number; subscriptions: number }>;
}

export interface RateSample {
  readonly at: number;
  readonly published: number;
  readonly delivered: number;
  readonly byTransport: Record<Transport, number>;
}

export const POLL_MS = 2000;
export const KEPT_SAMPLES = 150;

export class StatusPoller {
  status: Status | undefined;
  error: string | undefined;
  samples: RateSample[] = [];
  private previous: { at: number; status: Status } | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly listeners = new Set<() => void>();
  private version = 0;

  start(): void {
    void this.poll();
    this.timer = setInterval(() => void this.poll(), POLL_MS);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getVersion = (): number => this.version;

  /** Polls at once (after an action that changes the status, such as a retry). */
  refresh = (): void => void this.poll();

  private async poll(): Promise<void> {
    try {
      const response = await fetch("/api/status", { cache: "no-store" });
      if (!response.ok) {
        // A 401 here means the admin cookie is stale (e.g. the hub restarted with a new generated token).
        const refusal = (await response.json().catch(() => undefined)) as { error?: { message?: string } } | undefined;
        throw new Error(refusal?.error?.message ?? `HTTP ${response.status}`);
      }
      const status = (await response.json()) as Status;
      const at = performance.now();
      if (this.previous?.status.events && status.events && status.transports) {
        const seconds = (at - this.previous.at) / 1000;
        const before = this.previous.status;
        const rate = (now: number, then: number) => Math.max(0, (now - then) / seconds);
        this.samples = [
          ...this.samples.slice(-(KEPT_SAMPLES - 1)),
          {
            at: Date.now(),
            published: rate(status.events.published, before.events!.published),
            delivered: rate(status.events.delivered, before.events!.delivered),
            byTransport: {
              websocket: rate(status.transports.websocket.delivered, before.transports!.websocket.delivered),
              sse: rate(status.transports.sse.delivered, before.transports!.sse.delivered),
              polling: rate(status.transports.polling.delivered, before.transports!.polling.delivered),
            },
          },
        ];
      }
      this.previous = { at, status };
      this.status = status;
      this.error = undefined;
    } catch (error) {
      this.error = `cannot read /api/status: ${(error as Error).message}`;
    }
    this.version++;
    for (const listener of this.listeners) listener();
  }
}
