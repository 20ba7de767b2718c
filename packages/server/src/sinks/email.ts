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
 * Lifecycle and guarantees: the sink is called before the publish of each event is answered, on
 * the node that published it, and queues one email per matching rule (delivery-queue.ts); the
 * answer waits for the queue to hold them. Rendering, lookups and SMTP run in the background, so a
 * slow or dead SMTP server never delays delivery to sockets. Each email is tried `attempts` times
 * with backoff, then counted as failed, logged and kept as a dead letter that can be retried. Each
 * email carries a Message-ID made from its delivery id (the same on every try and every node).
 * Where the queue lives decides the rest: in memory, emails not yet sent when Herald stops are
 * lost; in Redis or PostgreSQL they wait for the next node, at least once. Values put into `html`
 * are HTML-escaped.
 */

import nodemailer, { type Transporter } from "nodemailer";
import type { Logger } from "pino";
import { channelMatches } from "@herald/protocol";
import type { EmailRule, EmailSinkConfig } from "../config/integrations-schema.js";
import type { PublishedEvent, StreamEvent } from "../engine/engine.js";
import { escapeHtml, render } from "../shared/template.js";
import type { DeliveryQueue } from "./delivery-queue.js";
import type { DeliveryStore } from "./delivery-store.js";
import { deliveryId } from "./delivery-id.js";
import { SpanKind, contextFromTraceparent, endSpan, startSpan } from "../shared/tracing.js";
import { eventContext, type EventContext } from "./event-context.js";
import type { UnseenDeadlines, UnseenItem } from "./unseen.js";

export interface EmailDeadLetter {
  readonly id: string;
  readonly channel: string;
  readonly type: string;
  readonly offset: number;
  readonly subject: string;
  readonly attempts: number;
  readonly error: string;
  readonly at: string;
}

export interface EmailSinkStatus {
  readonly store: string;
  readonly rules: number;
  /** Counted by this node: emails it sent, gave up (failed), retried, and dropped (queue full, or no recipient). */
  readonly sent: number;
  readonly failed: number;
  readonly retries: number;
  readonly dropped: number;
  /** Emails waiting, in flight or between tries (with a durable store: for every node); null when the store cannot be read. */
  readonly queued: number | null;
  readonly lastError: string | null;
  /** Newest first, at most `deadLetters`. */
  readonly deadLetters: EmailDeadLetter[];
}

/** One email, as stored in the queue: the rule it follows and the event it reports. */
interface Job {
  readonly rule: EmailRule;
  readonly context: EventContext;
  /** The event's `traceparent` while tracing is on: each attempt is a span of its trace. */
  readonly trace?: string;
}

export class EmailSink {
  private readonly transport: Transporter;
  private readonly rules: Array<{ rule: EmailRule; index: number; matches: (event: StreamEvent) => boolean }>;
  private readonly queue: DeliveryQueue<Job>;
  private readonly from: string;
  /** The right-hand side of Message-IDs: the sender's domain. */
  private readonly messageDomain: string;
  private readonly store: string;
  private sent = 0;
  private failed = 0;
  private retries = 0;
  private dropped = 0;
  private lastError: string | null = null;

  constructor(
    private readonly config: EmailSinkConfig & { smtp: { host: string } },
    store: DeliveryStore,
    private readonly logger: Logger,
    /** Where the deadlines of `unseen` rules wait; needed when a rule has `unseen`. */
    private readonly unseen?: UnseenDeadlines,
  ) {
    unseen?.register("email", (item) => this.deliverUnseen(item));
    const smtp = config.smtp;
    this.store = store.kind;
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
    this.messageDomain = address.includes("@") ? address.slice(address.lastIndexOf("@") + 1) : smtp.host;
    this.rules = config.rules.map((rule, index) => {
      const types = rule.on.types && rule.on.types.length > 0 ? new Set(rule.on.types) : undefined;
      return { rule, index, matches: (event: StreamEvent) => channelMatches(rule.on.channel, event.channel) && (types === undefined || types.has(event.type)) };
    });
    this.queue = store.queue<Job>({
      name: "email",
      attempts: config.attempts,
      retryDelay: config.retryDelay,
      maxQueue: config.maxQueue,
      deadLetters: config.deadLetters,
      concurrency: 2,
      ordered: false,
      run: (job, _attempt, id) => this.send(job, id),
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

  /**
   * Queues one email per matching rule; the promise (none when no rule matched) is what the
   * publish's answer waits for. A replayed publish queues again only where the store refuses
   * repeated ids.
   */
  observe(event: PublishedEvent): Promise<void> | undefined {
    if (event.replayed && !this.queue.durable) return undefined;
    let context: EventContext | undefined;
    const adding: Array<Promise<void>> = [];
    for (const { rule, index, matches } of this.rules) {
      if (!matches(event)) continue;
      if (rule.unseen !== undefined && this.unseen) {
        adding.push(this.unseen.schedule("email", index, rule.unseen, rule.user, event));
        continue;
      }
      context ??= eventContext(event);
      adding.push(this.add(index, context, event.trace));
    }
    return adding.length === 0 ? undefined : Promise.all(adding).then(() => undefined);
  }

  /** An `unseen` rule's deadline passed with the event not acknowledged: the email goes now. */
  private async deliverUnseen(item: UnseenItem): Promise<void> {
    await this.add(item.rule, item.event);
  }

  /** Queues the email of rule `index` for an event, under an id stable for the rule and the event. */
  private add(index: number, context: EventContext, trace?: string): Promise<void> {
    const rule = this.rules[index]?.rule;
    if (rule === undefined) return Promise.resolve();
    const id = deliveryId("email", index, context.channel, context.epoch, context.offset);
    return Promise.resolve(this.queue.add(id, trace === undefined ? { rule, context } : { rule, context, trace })).then((outcome) => {
      if (outcome === "queued") return;
      this.dropped += 1;
      this.logger.warn({ sink: "email", channel: context.channel, type: context.type }, "email queue full; email dropped");
    });
  }

  /** Resolves when every queued email was sent or given up (tests). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  /** Closes the SMTP connections (after the queue stopped taking emails). */
  close(): void {
    this.transport.close();
  }

  async status(): Promise<EmailSinkStatus> {
    const [counts, letters] = await Promise.allSettled([this.queue.counts(), this.queue.deadLetters()]);
    const deadLetters =
      letters.status === "fulfilled"
        ? letters.value.map((letter) => ({
            id: letter.id,
            channel: letter.data.context.channel,
            type: letter.data.context.type,
            offset: letter.data.context.offset,
            subject: render(letter.data.rule.subject, letter.data.context).text,
            attempts: letter.attempts,
            error: letter.error,
            at: letter.at,
          }))
        : [];
    return {
      store: this.store,
      rules: this.rules.length,
      sent: this.sent,
      failed: this.failed,
      retries: this.retries,
      dropped: this.dropped,
      queued: counts.status === "fulfilled" ? counts.value.queued : null,
      lastError: this.lastError,
      deadLetters,
    };
  }

  /** Queues dead letters again with fresh tries: the one with `id`, or all; resolves to how many. */
  retry(id?: string): Promise<number> {
    return this.queue.retry(id);
  }

  private async send(job: Job, id: string): Promise<void> {
    const span = job.trace === undefined ? undefined : startSpan("herald.email", contextFromTraceparent(job.trace), { "herald.delivery": id, "herald.channel": job.context.channel }, SpanKind.CLIENT);
    try {
      await this.sendNow(job, id);
      endSpan(span);
    } catch (error) {
      endSpan(span, error);
      throw error;
    }
  }

  private async sendNow(job: Job, id: string): Promise<void> {
    const to = await this.recipient(job);
    if (to === undefined) return;
    const subject = render(job.rule.subject, job.context).text;
    const text = job.rule.text === undefined ? undefined : render(job.rule.text, job.context).text;
    const html = job.rule.html === undefined ? undefined : render(job.rule.html, job.context, escapeHtml).text;
    await this.transport.sendMail({ from: this.from, to, subject, text, html, messageId: `<${id}@${this.messageDomain}>` });
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
