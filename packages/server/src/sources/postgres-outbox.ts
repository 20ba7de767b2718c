/**
 * The Postgres source: drains the outbox that the capture triggers fill, and publishes each row
 * through the hub.
 *
 * Lifecycle: start() installs the configured triggers, opens a LISTEN connection and drains
 * whatever is pending (catch-up). Each NOTIFY, each reconnect of the LISTEN connection and a
 * periodic safety-net timer (`pollInterval`) start a drain; drains never overlap on one node
 * (a request during a drain runs one more drain after it). stop() waits for the current drain.
 *
 * One drain = repeated batch transactions:
 *   BEGIN; pg_try_advisory_xact_lock(outbox) — else another node is draining, back off;
 *   SELECT … WHERE published_at IS NULL ORDER BY id LIMIT batchSize;
 *   publish each row through the hub, in id order;
 *   UPDATE … SET published_at = now() for the rows published; COMMIT.
 *
 * Ordering (why this gives commit order where it matters): ids come from a sequence taken when
 * the trigger runs, not at commit, so under concurrency a row with a lower id can commit after
 * one with a higher id. Herald therefore never keeps an "id > last" cursor, which would skip the
 * late one forever; it reads every visible unpublished row. A batch sees only committed rows, and
 * the set it sees only grows in commit order: if transaction B began writing after A committed,
 * B's ids are higher than A's, and any snapshot that sees B sees A; so A is published before B.
 * Two changes to one row are ordered this way by the row lock, so each row's changes are always
 * published in commit order. Only changes of transactions that overlapped in time (and so could
 * not see each other) may come out in id order rather than commit order. The advisory lock makes
 * one node drain at a time, so several Herald nodes on one database keep this order too.
 * (Draining only below `pg_snapshot_xmin` was the alternative; it gives no stronger order for
 * readers and stalls every event behind the oldest open transaction in the cluster.)
 *
 * Delivery: at least once. Rows are marked published in the transaction that read them, after the
 * hub accepted them, so a committed change is never lost. If Herald dies between publishing and
 * COMMIT, those rows are published again on restart; each event carries `outboxId` so consumers
 * can drop a repeat. A row whose channel or type the hub refuses (e.g. a template that expanded to
 * an invalid channel) is marked with `error` and skipped, so one bad row cannot block the outbox.
 */

import pg from "pg";
import type { EventTags } from "@herald/protocol";
import type { Logger } from "pino";
import { backoffDelay, type BackoffOptions } from "@herald/protocol";
import type { PostgresSourceConfig } from "../config/integrations-schema.js";
import { installOutbox, installTrigger, quoteIdent } from "./postgres-install.js";
import { HeraldError } from "../shared/herald-error.js";
import { SpanKind, contextFromTraceparent, contextOf, endSpan, startSpan, type TraceContext } from "../shared/tracing.js";

/** How a source hands an event to the hub; `trace`: the span the event is brought in under, while tracing is on. */
export type PublishFn = (channel: string, type: string, data: unknown, trace?: TraceContext, tags?: EventTags) => Promise<unknown>;

export type PostgresSourceState = "stopped" | "connecting" | "listening" | "reconnecting";

export interface PostgresSourceStatus {
  readonly state: PostgresSourceState;
  readonly outbox: string;
  readonly published: number;
  /** Rows marked with an error (refused by the hub). */
  readonly rejected: number;
  readonly drains: number;
  readonly lastError: string | null;
}

interface OutboxRow {
  id: string;
  channel: string;
  type: string;
  payload: Record<string, unknown>;
  /** Written by an app that inserts rows itself from a traced request; null from the capture triggers. */
  traceparent: string | null;
  /** From the trigger's tag columns, or written by the app; the hub checks them (a bad one marks the row with invalid_tags). */
  tags: EventTags | null;
}

const PRUNE_EVERY_MS = 60_000;
// Between reconnects to the database and between failed drains.
const RETRY_BACKOFF: BackoffOptions = { minDelay: 500, maxDelay: 30_000, factor: 2 };

export class PostgresSource {
  private readonly pool: pg.Pool;
  private listener: pg.Client | undefined;
  private state: PostgresSourceState = "stopped";
  private stopped = true;
  private draining: Promise<void> | undefined;
  private again = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectAttempt = 0;
  private drainFailures = 0;
  private lastPrune = 0;
  private published = 0;
  private rejected = 0;
  private drains = 0;
  private lastError: string | null = null;
  private readonly outbox: string;

  constructor(
    private readonly config: PostgresSourceConfig & { url: string },
    private readonly publish: PublishFn,
    private readonly logger: Logger,
  ) {
    this.outbox = config.outbox;
    this.pool = new pg.Pool({ connectionString: config.url, max: 2 });
    // An idle pooled connection that dies (server restart) must not crash the process.
    this.pool.on("error", (error) => this.noteError("pool connection lost", error));
  }

  /**
   * Installs the configured triggers, starts listening and catches up. Throws when the database
   * refuses the installs (a missing table or column: a configuration problem); when it cannot be
   * reached, keeps retrying in the background and reports it in status().
   */
  async start(): Promise<void> {
    this.stopped = false;
    this.pollTimer = setInterval(() => this.kick(), this.config.pollInterval);
    this.pollTimer.unref();
    try {
      await this.connect();
    } catch (error) {
      if (isSqlError(error)) {
        await this.stop();
        throw new Error(`cannot install Postgres triggers: ${(error as Error).message}`);
      }
      this.lostListener(undefined, error as Error);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.setState("stopped");
    clearInterval(this.pollTimer);
    clearTimeout(this.retryTimer);
    clearTimeout(this.reconnectTimer);
    await this.draining;
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }

  status(): PostgresSourceStatus {
    return { state: this.state, outbox: this.outbox, published: this.published, rejected: this.rejected, drains: this.drains, lastError: this.lastError };
  }

  /** Resolves once nothing is pending that this node knows of (used by tests and shutdown). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /** Asks for a drain; coalesces with one already running. */
  kick(): void {
    if (this.stopped) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = this.drainLoop().finally(() => {
      this.draining = undefined;
    });
  }

  /** Installs (once), opens the LISTEN connection and drains what is pending. */
  private async connect(): Promise<void> {
    this.setState(this.reconnectAttempt === 0 ? "connecting" : "reconnecting");
    if (!this.installed) {
      const { client, release } = await this.checkout();
      try {
        if (this.config.tables.length === 0) await installOutbox(client, this.outbox);
        for (const install of this.config.tables) await installTrigger(client, this.outbox, install);
      } finally {
        release();
      }
      this.installed = true;
    }
    const client = new pg.Client({ connectionString: this.config.url });
    client.on("notification", () => this.kick());
    client.on("error", (error) => this.lostListener(client, error));
    client.on("end", () => this.lostListener(client, new Error("connection ended")));
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteIdent(this.outbox)}`);
    } catch (error) {
      client.removeAllListeners("end");
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
    this.reconnectAttempt = 0;
    this.setState("listening");
    // Catch up: whatever was written while not listening has no NOTIFY coming.
    this.kick();
  }

  private installed = false;

  private lostListener(client: pg.Client | undefined, error: Error): void {
    if (this.stopped || (client !== undefined && this.listener !== client)) return;
    if (this.reconnectTimer) return;
    this.listener = undefined;
    this.noteError("LISTEN connection lost", error);
    this.setState("reconnecting");
    const delay = backoffDelay(this.reconnectAttempt++, RETRY_BACKOFF);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect().catch((e: unknown) => this.lostListener(undefined, e as Error));
    }, delay);
    this.reconnectTimer.unref();
  }

  private async drainLoop(): Promise<void> {
    do {
      this.again = false;
      try {
        let outcome: "more" | "done" | "busy";
        do outcome = await this.drainBatch();
        while (outcome === "more" && !this.stopped);
        this.drainFailures = 0;
        if (outcome === "busy") this.retryLater(backoffDelay(1, RETRY_BACKOFF));
        await this.prune();
      } catch (error) {
        this.noteError("drain failed; will retry", error as Error);
        this.retryLater(backoffDelay(this.drainFailures++, RETRY_BACKOFF));
        return;
      }
    } while (this.again && !this.stopped);
  }

  private retryLater(delay: number): void {
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.kick();
    }, delay);
    this.retryTimer.unref();
  }

  /**
   * A pooled connection for a transaction. pg emits `error` on a checked-out client whose
   * connection dies (server restart, terminated backend, network cut) besides failing its query;
   * the pool listens only while a client is idle, so without this listener that event would be an
   * uncaught exception and take the whole process down. The failed query still rejects, and
   * release() then discards the broken connection instead of returning it to the pool.
   */
  private async checkout(): Promise<{ client: pg.PoolClient; release: (error?: Error) => void }> {
    const client = await this.pool.connect();
    let lost: Error | undefined;
    const onError = (error: Error): void => {
      lost = error;
      this.noteError("database connection lost", error);
    };
    client.on("error", onError);
    return {
      client,
      release: (error?: Error) => {
        client.off("error", onError);
        const broken = error ?? lost;
        client.release(broken);
      },
    };
  }

  private async drainBatch(): Promise<"more" | "done" | "busy"> {
    const { client, release } = await this.checkout();
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      const lock = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked", [`herald:${this.outbox}`]);
      if (!lock.rows[0]?.locked) {
        await client.query("ROLLBACK");
        return "busy";
      }
      this.drains += 1;
      const table = quoteIdent(this.outbox);
      const { rows } = await client.query<OutboxRow>(
        `SELECT id, channel, type, payload, traceparent, tags FROM ${table} WHERE published_at IS NULL ORDER BY id LIMIT $1`,
        [this.config.batchSize],
      );
      const done: string[] = [];
      const refused: Array<{ id: string; error: string }> = [];
      let failure: Error | undefined;
      for (const row of rows) {
        if (this.stopped) break;
        // While tracing is on: a span per row, in the trace of the request that wrote it when the row names one.
        const span = startSpan("herald.source.postgres", contextFromTraceparent(row.traceparent ?? undefined), { "herald.outbox": this.outbox, "herald.outbox.id": row.id, "herald.channel": row.channel }, SpanKind.CONSUMER);
        try {
          await this.publish(row.channel, row.type, { ...row.payload, outboxId: Number(row.id) }, contextOf(span), row.tags ?? undefined);
          endSpan(span);
          done.push(row.id);
        } catch (error) {
          endSpan(span, error);
          if (error instanceof HeraldError) {
            refused.push({ id: row.id, error: `${error.code}: ${error.message}` });
            this.logger.warn({ outboxId: row.id, channel: row.channel, type: row.type, code: error.code }, "outbox row refused by the hub; marked with its error");
            continue;
          }
          // The engine is unavailable: keep what was published, retry the rest later.
          failure = error as Error;
          break;
        }
      }
      if (done.length > 0) await client.query(`UPDATE ${table} SET published_at = now() WHERE id = ANY($1::bigint[])`, [done]);
      for (const { id, error } of refused) {
        await client.query(`UPDATE ${table} SET published_at = now(), error = $2 WHERE id = $1`, [id, error]);
      }
      await client.query("COMMIT");
      this.published += done.length;
      this.rejected += refused.length;
      if (failure) throw failure;
      return rows.length === this.config.batchSize ? "more" : "done";
    } catch (error) {
      broken = error as Error;
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      // A connection that failed mid-transaction is discarded rather than reused.
      release(broken !== undefined && !(broken instanceof HeraldError) ? broken : undefined);
    }
  }

  private async prune(): Promise<void> {
    if (Date.now() - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = Date.now();
    await this.pool.query(`DELETE FROM ${quoteIdent(this.outbox)} WHERE published_at < now() - $1::interval`, [`${this.config.retention} milliseconds`]);
  }

  private setState(state: PostgresSourceState): void {
    if (this.state === state) return;
    if (this.stopped && state !== "stopped") return;
    this.logger.debug({ source: "postgres", from: this.state, to: state }, "postgres source state");
    this.state = state;
  }

  private noteError(message: string, error: Error): void {
    if (this.stopped) return;
    this.lastError = error.message;
    this.logger.warn({ source: "postgres", err: error.message }, message);
  }
}

/** A server-side SQL error (it has a five-character SQLSTATE), as opposed to a connection failure. */
function isSqlError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code);
}
