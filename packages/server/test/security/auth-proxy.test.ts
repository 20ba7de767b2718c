/**
 * Authenticating with the app's own session: Herald asks a real HTTP backend (started here) who a
 * cookie belongs to (connect proxy) and whether that user may join a channel (subscribe proxy).
 * A cookie user gets their personal channel and not another's, on every transport; the backend's
 * refusals and failures reach the client as clear errors, never a hang.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { TestClient, getJson, startHerald, type RunningHerald } from "../support/herald.js";
import { SseReader } from "../support/sse.js";

const SESSIONS: Record<string, string> = { "s-alice": "alice", "s-bob": "bob" };

/** The app's backend: sessions by cookie, and who may join which room. */
class AppBackend {
  mode: "ok" | "failing" | "silent" = "ok";
  readonly calls = { connect: 0, subscribe: 0 };
  private readonly server: Server;
  private readonly held = new Set<() => void>();

  constructor() {
    this.server = createServer((request, response) => {
      let text = "";
      request.on("data", (chunk: Buffer) => (text += chunk.toString()));
      request.on("end", () => {
        if (this.mode === "silent") {
          // Never answers: Herald's timeout must end the wait.
          this.held.add(() => response.destroy());
          return;
        }
        if (this.mode === "failing") {
          response.writeHead(500).end("database down");
          return;
        }
        const body = JSON.parse(text) as { headers: Record<string, string>; user?: string; channel?: string };
        const answer = (status: number, value: unknown) => response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
        if (request.url === "/connect") {
          this.calls.connect += 1;
          const sid = /(?:^|;\s*)sid=([^;]+)/.exec(body.headers.cookie ?? "")?.[1];
          if (sid === undefined) return answer(200, {});
          const user = SESSIONS[sid];
          return user ? answer(200, { user }) : answer(401, { error: "session expired; sign in again" });
        }
        this.calls.subscribe += 1;
        if (body.channel === "room:lobby" && body.user !== undefined) return answer(200, {});
        if (body.channel === "room:vip" && body.user === "alice") return answer(200, {});
        return answer(403, { error: "not a member of this room" });
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const release of this.held) release();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe("connect and subscribe proxies: the app's own session", () => {
  let backend: AppBackend;
  let hub: RunningHerald;

  before(async () => {
    backend = new AppBackend();
    const url = await backend.listen();
    hub = await startHerald({
      auth: { proxy: { connect: { url: `${url}/connect`, timeout: "500ms", cacheTtl: "0s" }, subscribe: { url: `${url}/subscribe`, timeout: "500ms", cacheTtl: "30s" } } },
      namespaces: { user: { personal: true }, room: { subscribe: "proxy" } },
    });
  });
  after(async () => {
    await hub.close();
    await backend.close();
  });

  const alice = { headers: { cookie: "theme=dark; sid=s-alice" } };

  it("WebSocket: the cookie user gets their own channel, not another's, and keeps the connection", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws`, alice);
    assert.equal((await client.subscribe("user:alice")).type, "subscribed");
    const refused = await client.subscribe("user:bob");
    assert.equal(refused.code, "forbidden");
    await hub.herald.publish("user:alice", "note", { n: 1 });
    await client.next("note");
    await client.close();
  });

  it("SSE and polling: the same cookie, the same answers", async () => {
    const stream = await SseReader.open(`${hub.url}/sse?channel=user:alice`, alice.headers);
    await stream.waitFor("subscribed");
    stream.close();
    assert.equal((await getJson(`${hub.url}/api/updates?channel=user:alice`, alice.headers)).status, 200);
    const other = await getJson(`${hub.url}/api/updates?channel=user:bob`, alice.headers);
    assert.equal(other.status, 403);
    assert.equal(other.body.error.code, "forbidden");
  });

  it("no session cookie: an anonymous visitor, who has no personal channel", async () => {
    const answer = await getJson(`${hub.url}/api/updates?channel=user:alice`);
    assert.equal(answer.status, 401);
    assert.equal(answer.body.error.code, "unauthorized");
  });

  it("a session the backend refuses: 401 over HTTP, 4501 with its reason on WebSocket", async () => {
    const expired = { cookie: "sid=s-stale" };
    const answer = await getJson(`${hub.url}/api/updates?channel=user:alice`, expired);
    assert.equal(answer.status, 401);
    assert.match(answer.body.error.message, /session expired; sign in again/);
    const client = await TestClient.open(`${hub.wsUrl}/ws`, { headers: expired });
    const closed = await client.closed;
    assert.equal(closed.code, 4501);
    assert.equal(client.frames.find((frame) => frame.type === "error")?.code, "unauthorized");
  });

  it("subscribe proxy: the backend decides per channel, and its answer is reused for the same user and channel", async () => {
    const client = await TestClient.open(`${hub.wsUrl}/ws`, alice);
    const before = backend.calls.subscribe;
    assert.equal((await client.subscribe("room:vip")).type, "subscribed");
    const again = await TestClient.open(`${hub.wsUrl}/ws`, alice);
    assert.equal((await again.subscribe("room:vip")).type, "subscribed");
    assert.equal(backend.calls.subscribe - before, 1, "the second subscribe used the cached answer");
    const bob = await TestClient.open(`${hub.wsUrl}/ws`, { headers: { cookie: "sid=s-bob" } });
    const refused = await bob.subscribe("room:vip");
    assert.equal(refused.code, "forbidden");
    assert.match(String(refused.message), /not a member of this room/);
    assert.equal((await bob.subscribe("room:lobby")).type, "subscribed");
    await Promise.all([client.close(), again.close(), bob.close()]);
  });

  for (const mode of ["failing", "silent"] as const) {
    it(`a backend that is ${mode === "failing" ? "failing (500)" : "not answering"}: auth_backend_unavailable at once, retryable, never a hang`, async () => {
      backend.mode = mode;
      try {
        const started = Date.now();
        const answer = await getJson(`${hub.url}/api/updates?channel=user:alice`, alice.headers);
        assert.equal(answer.status, 503);
        assert.equal(answer.body.error.code, "auth_backend_unavailable");
        const client = await TestClient.open(`${hub.wsUrl}/ws`, alice);
        const closed = await client.closed;
        assert.equal(client.frames.find((frame) => frame.type === "error")?.code, "auth_backend_unavailable");
        // A reconnect code: the SDK tries again later rather than giving up.
        assert.equal(closed.code, 1011);
        assert.ok(Date.now() - started < 5_000, `answered within the 500 ms timeout, not left hanging (${Date.now() - started} ms)`);
      } finally {
        backend.mode = "ok";
      }
    });
  }

  it("cookies now authenticate, so a page of another site is refused before anything opens", async () => {
    const answer = await getJson(`${hub.url}/api/updates?channel=user:alice`, { ...alice.headers, origin: "https://evil.example" });
    assert.equal(answer.status, 403);
    assert.equal(answer.body.error.code, "origin_not_allowed");
  });
});

describe("connect proxy: the headers chosen, the channels and the expiry the backend answers", () => {
  const calls: Array<Record<string, string>> = [];
  let server: Server;
  let hub: RunningHerald;

  before(async () => {
    server = createServer((request, response) => {
      let text = "";
      request.on("data", (chunk: Buffer) => (text += chunk.toString()));
      request.on("end", () => {
        const { headers } = JSON.parse(text) as { headers: Record<string, string> };
        calls.push(headers);
        const session = headers["x-app-session"];
        // Carol's session limits her connections to her channel and the news; Dave's has ended already.
        const answer =
          session === "carol" ? { user: "carol", channels: ["user:carol", "news:*"] } : session === "dave" ? { user: "dave", expiresAt: Math.floor(Date.now() / 1000) - 1 } : {};
        response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/connect`;
    hub = await startHerald({ auth: { proxy: { connect: { url, cacheTtl: "30s", headers: ["x-app-session"] } } }, namespaces: { user: { personal: true } } });
  });
  after(async () => {
    await hub.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("forwards only the configured headers, and the channels answered limit the connection, which stays open", async () => {
    const carol = await TestClient.open(`${hub.wsUrl}/ws`, { headers: { "x-app-session": "carol", cookie: "sid=not-for-the-backend" } });
    assert.equal((await carol.subscribe("user:carol")).type, "subscribed");
    assert.deepEqual(calls.at(-1), { "x-app-session": "carol" });
    assert.equal((await carol.subscribe("news:today")).type, "subscribed");
    const refused = await carol.subscribe("sport:today");
    assert.equal(refused.code, "forbidden");
    await hub.herald.publish("news:today", "headline", { n: 1 });
    await carol.next("headline");
    // The answer is reused for the same headers: a second tab does not ask again.
    const before = calls.length;
    const secondTab = await TestClient.open(`${hub.wsUrl}/ws`, { headers: { "x-app-session": "carol" } });
    assert.equal((await secondTab.subscribe("user:carol")).type, "subscribed");
    assert.equal(calls.length, before);
    await Promise.all([carol.close(), secondTab.close()]);
  });

  it("an answer whose expiresAt has passed is not reused: the backend is asked again", async () => {
    const before = calls.length;
    for (let tab = 0; tab < 2; tab++) {
      const dave = await TestClient.open(`${hub.wsUrl}/ws`, { headers: { "x-app-session": "dave" } });
      assert.equal((await dave.subscribe("user:dave")).type, "subscribed");
      await dave.close();
    }
    assert.equal(calls.length - before, 2, JSON.stringify(calls.slice(before)));
  });
});
