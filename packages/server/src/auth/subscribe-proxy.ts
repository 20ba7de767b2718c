/**
 * The subscribe proxy: for namespaces with `subscribe: proxy`, the app's backend decides whether a
 * connection may join a channel. Herald POSTs `{user, channel, connectionId, transport, headers}`
 * to `auth.proxy.subscribe.url`; 200 allows, 403 refuses (`forbidden`), 401 refuses as
 * `unauthorized`. Answers are kept `cacheTtl` per user (or per visitor's headers) and channel.
 */

import { createHash } from "node:crypto";
import type { HeraldConfig } from "../config/schema.js";
import { HeraldError } from "../shared/herald-error.js";
import { AnswerCache } from "./answer-cache.js";
import { askBackend, backendReason } from "./backend-call.js";

type SubscribeConfig = NonNullable<NonNullable<HeraldConfig["auth"]["proxy"]>["subscribe"]>;

export interface SubscribeQuestion {
  readonly user: string | undefined;
  readonly channel: string;
  readonly connectionId: string;
  readonly transport: string;
  /** The connect request's forwarded headers (empty without a connect proxy). */
  readonly headers: Record<string, string>;
}

type Answer = { allowed: true } | { allowed: false; code: "forbidden" | "unauthorized"; reason: string };

export class SubscribeProxy {
  private readonly cache: AnswerCache<Answer>;

  constructor(private readonly config: SubscribeConfig) {
    this.cache = new AnswerCache(config.cacheTtl);
  }

  async authorize(question: SubscribeQuestion): Promise<void> {
    const who = question.user !== undefined ? `user:${question.user}` : `visitor:${createHash("sha256").update(JSON.stringify(question.headers)).digest("base64url")}`;
    const key = `${who}\n${question.channel}`;
    let answer = this.cache.get(key);
    if (answer === undefined) {
      const reply = await askBackend("subscribe", this.config.url, question, this.config.timeout);
      answer = reply.status === 200
        ? { allowed: true }
        : { allowed: false, code: reply.status === 401 ? "unauthorized" : "forbidden", reason: backendReason(reply.body) ?? `the app does not allow ${question.channel}` };
      this.cache.set(key, answer);
    }
    if (!answer.allowed) throw new HeraldError(answer.code, `${question.channel}: ${answer.reason}`);
  }
}
