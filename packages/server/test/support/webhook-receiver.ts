/** Test support: a real HTTP receiver for webhooks, on a free port or on one given (to bring it "back"). */

import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { deadline } from "./deadline.js";

export interface Hit {
  headers: IncomingMessage["headers"];
  raw: string;
  body: any;
}

export interface WebhookReceiver {
  url: string;
  hits: Hit[];
  /** Resolves once `count` requests arrived in all; fails after `timeoutMs` with the count that did. */
  until(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts a receiver; `status` decides each answer (it may return a promise, to answer slowly). */
export async function startReceiver(status: (hit: Hit) => number | Promise<number>, port = 0): Promise<WebhookReceiver> {
  const hits: Hit[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const hit = { headers: request.headers, raw, body: JSON.parse(raw) };
      hits.push(hit);
      for (const waiter of [...waiters]) if (hits.length >= waiter.count) waiters.splice(waiters.indexOf(waiter), 1), waiter.resolve();
      void Promise.resolve(status(hit)).then((code) => {
        response.statusCode = code;
        response.end();
      });
    });
  });
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    hits,
    until: (count, timeoutMs) =>
      hits.length >= count
        ? Promise.resolve()
        : deadline(new Promise<void>((resolve) => waiters.push({ count, resolve })), () => `${count} webhook requests (${hits.length} arrived)`, timeoutMs),
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
