/** Test support: a real SMTP server (smtp-server) that keeps every message it accepts. */

import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { deadline } from "./deadline.js";

export interface Received {
  from: string;
  to: string[];
  raw: string;
}

export interface SmtpSink {
  port: number;
  messages: Received[];
  /** The next message not yet taken; fails after 10 s if none arrives. */
  next(): Promise<Received>;
  /** Resolves once `count` messages arrived in all; fails after `timeoutMs` with the count that did. */
  until(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts on a free port, or on `port` (to bring a server that was "down" back). */
export async function startSmtp(port = 0): Promise<SmtpSink> {
  const messages: Received[] = [];
  const waiters: Array<(message: Received) => void> = [];
  const counters: Array<{ count: number; resolve: () => void }> = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        const message = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString("utf8"),
        };
        messages.push(message);
        waiters.shift()?.(message);
        for (const counter of [...counters]) if (messages.length >= counter.count) counters.splice(counters.indexOf(counter), 1), counter.resolve();
        callback();
      });
    },
  });
  server.listen(port, "127.0.0.1");
  await once(server.server, "listening");
  let taken = 0;
  return {
    port: (server.server.address() as AddressInfo).port,
    messages,
    next: () =>
      taken < messages.length
        ? Promise.resolve(messages[taken++]!)
        : deadline(new Promise<Received>((resolve) => waiters.push((m) => (taken++, resolve(m)))), () => `mail number ${taken + 1} at the SMTP server (${messages.length} arrived)`),
    until: (count, timeoutMs) =>
      messages.length >= count
        ? Promise.resolve()
        : deadline(new Promise<void>((resolve) => counters.push({ count, resolve })), () => `${count} mails at the SMTP server (${messages.length} arrived)`, timeoutMs),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The Message-ID header of a raw message. */
export function messageId(raw: string): string | undefined {
  return /^Message-ID:\s*(<[^>]+>)/im.exec(raw)?.[1];
}
