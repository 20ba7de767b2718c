/**
 * The email sink: sends an email for each published event that matches a rule, over SMTP with
 * nodemailer. Configured like seed 2's service (SMTP_SERVER, SMTP_PORT, SMTP_USERNAME,
 * SMTP_PASSWORD, FROM_EMAIL, FROM_NAME) plus rules in `sinks.email.rules`:
 *
 *   { on: { channel: "bets:*", types: ["bet_resolved"] },
 *     to: "{data.email}",                         // or lookup: "http://app/users/{data.user_id}" → {"email": …}
 *     subject: "Your bet {data.bet_id} is {data.result}",
 *     text: "…", html: "<p>…{data.result}…</p>" }
 *
 * Lifecycle and guarantees: the sink observes the hub's `published` listener, so an event is
 * considered once, by the node that published it. Matching and queueing are synchronous and
 * cheap; rendering, lookups and SMTP run in the background, so a slow or dead SMTP server never
 * delays delivery to sockets. Each email is tried `attempts` times with backoff, then counted as
 * failed and logged. The queue lives in memory: emails not yet sent when Herald stops are lost
 * (at most once, best effort). Values put into `html` are HTML-escaped.
 */

import nodemailer, { type Transporter } from "nodemailer";
import type { Logger } from "pino";
import { channelMatches } from "@herald/protocol";
import type { EmailRule, EmailSinkConfig } from "../config/integrations-schema.js";
import type { StreamEvent } from "../engine/engine.js";
import { eventTimestamp } from "../hub/event-frame.js";
import { escapeHtml, render } from "../shared/template.js";
import { RetryQueue } from "./retry-queue.js";

export interface EmailSinkStatus {
  readonly rules: number;
  readonly sent: number;
  readonly failed: number;
  readonly retries: number;
  /** Emails not queued because the queue was full, or skipped because a recipient was missing. */
  readonly dropped: number;
  readonly queued: number;
  readonly lastError: string | null;
}

/** What templates see: `{channel}`, `{type}`, `{data.…}`, `{offset}`, `{epoch}`, `{timestamp}`. */
export interface EventContext {
  readonly channel: string;
  readonly type: string;
  readonly data: unknown;
  readonly offset: number;
  readonly epoch: string;
  readonly timestamp: string;
}

export function eventContext(event: StreamEvent): EventContext {
  return { channel: event.channel, type: event.type, data: event.data, offset: event.offset, epoch: event.epoch, timestamp: eventTimestamp(event) };
}

interface Job {
  readonly rule: EmailRule;
  readonly context: EventContext;
}

export class EmailSink {
  private readonly transport: Transporter;
  private readonly rules: Array<{ rule: EmailRule; matches: (event: StreamEvent) => boolean }>;
  private readonly queue: RetryQueue<Job>;
  private readonly from: string;
  private sent = 0;
  private failed = 0;
  private retries = 0;
  private dropped = 0;
  private lastError: string | null = null;

  constructor(
    private readonly config: EmailSinkConfig & { smtp: { host: string } },
    private readonly logger: Logger,
  ) {
    const smtp = config.smtp;
    this.transport = nodemailer.createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: smtp.secure ?? smtp.port === 465,
      auth: smtp.username ? { user: smtp.username, pass: smtp.password ?? "" } : undefined,
      // Bounded waits: a server that does not answer fails the try instead of hanging the queue.
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 20_000,
    });
    const address = config.from.email ?? smtp.username ?? `herald@${smtp.host}`;
    this.from = config.from.name ? `"${config.from.name.replace(/"/g, "'")}" <${address}>` : address;
    this.rules = config.rules.map((rule) => {
      const types = rule.on.types && rule.on.types.length > 0 ? new Set(rule.on.types) : undefined;
      return { rule, matches: (event: StreamEvent) => channelMatches(rule.on.channel, event.channel) && (types === undefined || types.has(event.type)) };
    });
    this.queue = new RetryQueue<Job>({
      attempts: config.attempts,
      retryDelay: config.retryDelay,
      maxQueue: config.maxQueue,
      concurrency: 2,
      ordered: false,
      run: (job) => this.send(job),
      onRetry: (job, error, attempt) => {
        this.retries += 1;
        this.lastError = error.message;
        this.logger.warn({ sink: "email", channel: job.context.channel, type: job.context.type, attempt, err: error.message }, "email not sent; will retry");
      },
      onGiveUp: (job, error, attempts) => {
        this.failed += 1;
        this.lastError = error.message;
        this.logger.error({ sink: "email", channel: job.context.channel, type: job.context.type, attempts, err: error.message }, "email given up");
      },
    });
  }

  /** The hub's `published` listener: queues one email per matching rule and returns at once. */
  observe(event: StreamEvent): void {
    let context: EventContext | undefined;
    for (const { rule, matches } of this.rules) {
      if (!matches(event)) continue;
      context ??= eventContext(event);
      if (!this.queue.push({ rule, context })) {
        this.dropped += 1;
        this.logger.warn({ sink: "email", channel: event.channel, type: event.type }, "email queue full; email dropped");
      }
    }
  }

  /** Resolves when every queued email was sent or given up (for tests and graceful stops). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  stop(): void {
    this.queue.stop();
    this.transport.close();
  }

  status(): EmailSinkStatus {
    return { rules: this.rules.length, sent: this.sent, failed: this.failed, retries: this.retries, dropped: this.dropped, queued: this.queue.size, lastError: this.lastError };
  }

  private async send(job: Job): Promise<void> {
    const to = await this.recipient(job);
    if (to === undefined) return;
    const subject = render(job.rule.subject, job.context).text;
    const text = job.rule.text === undefined ? undefined : render(job.rule.text, job.context).text;
    const html = job.rule.html === undefined ? undefined : render(job.rule.html, job.context, escapeHtml).text;
    await this.transport.sendMail({ from: this.from, to, subject, text, html });
    this.sent += 1;
  }

  private async recipient(job: Job): Promise<string | undefined> {
    if (job.rule.to !== undefined) {
      const to = render(job.rule.to, job.context);
      if (to.missing.length > 0 || to.text.trim() === "") {
        // Not worth retrying: the event does not name a recipient.
        this.dropped += 1;
        this.logger.warn({ sink: "email", channel: job.context.channel, type: job.context.type, missing: to.missing }, "email skipped: the event has no recipient");
        return undefined;
      }
      return to.text;
    }
    const url = render(job.rule.lookup!, job.context, encodeURIComponent).text;
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`recipient lookup ${url} answered ${response.status}`);
    const body = (await response.json()) as { email?: unknown };
    if (typeof body.email !== "string" || body.email === "") throw new Error(`recipient lookup ${url} answered no "email"`);
    return body.email;
  }
}
