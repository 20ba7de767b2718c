import { describe, it } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { HeraldError, type Authorizer } from "@herald/server";
import { startHerald } from "../../server/test/support/herald.js";
import { Herald, type StateChange } from "../src/index.js";
import { FlakyProxy } from "./support/proxy.js";
import { until, waitForState } from "./support/wait.js";

const fast = { minDelay: 40, maxDelay: 200, factor: 2 };

function record(client: Herald): Array<Pick<StateChange, "oldState" | "newState" | "reason">> {
  const changes: Array<Pick<StateChange, "oldState" | "newState" | "reason">> = [];
  client.on("state", ({ oldState, newState, reason }) => changes.push({ oldState, newState, reason }));
  return changes;
}

describe("connection state machine", () => {
  it("goes connecting → connected → reconnecting → connected → disconnected, each with its reason", async () => {
    const hub = await startHerald();
    const proxy = await FlakyProxy.start(hub.url);
    const client = new Herald({ url: proxy.url, WebSocket, reconnect: fast });
    try {
      const changes = record(client);
      assert.equal(client.state, "disconnected");
      const connected = waitForState(client, "connected");
      client.connect();
      const first = await connected;
      assert.equal(first.transport, "websocket");
      const reconnecting = waitForState(client, "reconnecting");
      proxy.cut();
      const retry = await reconnecting;
      assert.equal(retry.attempt, 1);
      assert.equal(retry.maxAttempts, Infinity);
      assert.ok(retry.nextDelay >= fast.minDelay && retry.nextDelay <= fast.minDelay * 2, `nextDelay ${retry.nextDelay}`);
      assert.equal(retry.code, 1006);
      await waitForState(client, "connected");
      client.disconnect();
      assert.equal(client.state, "disconnected");
      assert.deepEqual(changes, [
        { oldState: "disconnected", newState: "connecting", reason: "connect" },
        { oldState: "connecting", newState: "connected", reason: "transport_open" },
        { oldState: "connected", newState: "reconnecting", reason: "transport_closed" },
        { oldState: "reconnecting", newState: "connected", reason: "transport_open" },
        { oldState: "connected", newState: "disconnected", reason: "disconnect" },
      ]);
    } finally {
      client.disconnect();
      await proxy.close();
      await hub.close();
    }
  });

  it("stops with state failed and the server's code when the close code says reconnecting cannot help", async () => {
    const refuseAll: Authorizer = {
      async authenticate() {
        throw new HeraldError("unauthorized", "token rejected");
      },
      async authorizeSubscribe() {},
      async authorizePublish() {},
    };
    const hub = await startHerald({}, { authorizer: refuseAll });
    const client = new Herald({ url: hub.url, token: "bad", WebSocket, reconnect: fast });
    try {
      const failed = waitForState(client, "failed");
      client.connect();
      const change = await failed;
      assert.equal(change.reason, "server_closed");
      assert.equal(change.code, 4501);
      assert.match(change.message ?? "", /token rejected/);
    } finally {
      client.disconnect();
      await hub.close();
    }
  });

  it("gives up after maxAttempts failed attempts in a row", async () => {
    const hub = await startHerald();
    const url = hub.url;
    await hub.close();
    const client = new Herald({ url, WebSocket, transports: ["websocket"], reconnect: { ...fast, maxAttempts: 3 } });
    const attempts: number[] = [];
    client.on("state", (change) => {
      if (change.newState === "reconnecting") attempts.push(change.attempt);
    });
    const failed = waitForState(client, "failed");
    client.connect();
    const change = await failed;
    assert.equal(change.reason, "max_attempts");
    assert.deepEqual(attempts, [1, 2, 3]);
    client.disconnect();
  });

  it("falls back from WebSocket to SSE after two refused upgrades, and shows the transport in the state", async () => {
    const hub = await startHerald();
    const proxy = await FlakyProxy.start(hub.url);
    proxy.refuseWebSocket = true;
    const client = new Herald({ url: proxy.url, WebSocket, reconnect: fast });
    try {
      const transports: string[] = [];
      client.on("state", (change) => transports.push(`${change.newState}:${change.transport}`));
      const connected = waitForState(client, "connected");
      client.connect();
      assert.equal((await connected).transport, "sse");
      assert.equal(proxy.seen.get("/ws"), 2);
      assert.deepEqual(transports, ["connecting:websocket", "reconnecting:websocket", "reconnecting:sse", "connected:sse"]);
    } finally {
      client.disconnect();
      await proxy.close();
      await hub.close();
    }
  });

  it("treats a silent connection as dead after pingInterval + grace, and reconnects", async () => {
    const hub = await startHerald({ pingInterval: 300 });
    const proxy = await FlakyProxy.start(hub.url);
    const client = new Herald({ url: proxy.url, WebSocket, reconnect: fast, heartbeatGrace: 200 });
    try {
      const connected = waitForState(client, "connected");
      client.connect();
      await connected;
      const reconnecting = waitForState(client, "reconnecting");
      proxy.stalled = true;
      const change = await reconnecting;
      assert.equal(change.reason, "heartbeat_timeout");
      proxy.stalled = false;
      proxy.cut();
      await waitForState(client, "connected");
    } finally {
      client.disconnect();
      await proxy.close();
      await hub.close();
    }
  });

  it("calls getToken on each connect and again on token_expired, then authenticates with an auth frame", async () => {
    const authenticated: string[] = [];
    const expiring: Authorizer = {
      async authenticate(_session, token) {
        authenticated.push(token);
      },
      async authorizeSubscribe(_session, _channel, token) {
        if (token === "t1") throw new HeraldError("token_expired", "token t1 has expired");
      },
      async authorizePublish() {},
    };
    const hub = await startHerald({}, { authorizer: expiring });
    let calls = 0;
    const client = new Herald({ url: hub.url, getToken: async () => `t${++calls}`, WebSocket, reconnect: fast });
    try {
      const subscription = client.subscribe("user:carol");
      const subscribed = until(() => subscription.state.status === "subscribed", "subscribed");
      subscription.watch(subscribed.poke);
      client.connect();
      await subscribed.done;
      assert.equal(calls, 2);
      const both = until(() => authenticated.length >= 2, "two auth frames");
      const timer = setInterval(both.poke, 10);
      await both.done.finally(() => clearInterval(timer));
      assert.deepEqual(authenticated, ["t1", "t2"]);
    } finally {
      client.disconnect();
      await hub.close();
    }
  });
});

describe("token refresh", () => {
  it("makes one getToken call when many subscriptions are refused with token_expired at once", async () => {
    const channels = ["user:t1", "user:t2", "user:t3", "user:t4", "user:t5"];
    const authenticated: string[] = [];
    let refusals = 0;
    const allRefused = until(() => refusals >= channels.length, "every subscription refused", 15_000);
    const expiring: Authorizer = {
      async authenticate(_session, token) {
        authenticated.push(token);
      },
      async authorizeSubscribe(_session, _channel, token) {
        if (token !== "t1") return;
        refusals += 1;
        allRefused.poke();
        throw new HeraldError("token_expired", "token t1 has expired");
      },
      async authorizePublish() {},
    };
    const hub = await startHerald({}, { authorizer: expiring });
    let calls = 0;
    // The new token comes only once every subscription has been refused, so each refusal asks for
    // a token while the first request is still on its way.
    const getToken = async (): Promise<string> => {
      calls += 1;
      if (calls > 1) await allRefused.done;
      return `t${calls}`;
    };
    const client = new Herald({ url: hub.url, getToken, WebSocket, reconnect: fast });
    try {
      const subscriptions = channels.map((channel) => client.subscribe(channel));
      const subscribed = until(() => subscriptions.every((subscription) => subscription.state.status === "subscribed"), "every subscription made");
      for (const subscription of subscriptions) subscription.watch(subscribed.poke);
      client.connect();
      await subscribed.done;
      assert.equal(refusals, channels.length);
      assert.equal(calls, 2);
      assert.deepEqual(authenticated, ["t1", "t2"]);
    } finally {
      client.disconnect();
      await hub.close();
    }
  });
});

describe("a forbidden subscription is that subscription's failure alone", () => {
  it("puts the one subscription in failed with the code, while the connection and the others keep receiving", async () => {
    const personal: Authorizer = {
      async authenticate(session, token) {
        session.user = token;
      },
      async authorizeSubscribe(session, channel) {
        if (channel.startsWith("user:") && channel !== `user:${session.user}`) throw new HeraldError("forbidden", "not your channel");
      },
      async authorizePublish() {},
    };
    const hub = await startHerald({}, { authorizer: personal });
    const client = new Herald({ url: hub.url, WebSocket, token: "alice", reconnect: fast });
    try {
      const changes = record(client);
      const connected = waitForState(client, "connected");
      client.connect();
      await connected;
      const own = client.subscribe<{ note: { n: number } }>("user:alice");
      const other = client.subscribe("user:bob");
      const refused = until(() => other.state.status === "failed", "user:bob to fail");
      other.on("error", refused.poke);
      await refused.done;
      assert.equal(other.state.error?.code, "forbidden");
      const received: number[] = [];
      const got = until(() => received.length === 1, "the note on user:alice");
      own.on("note", (data) => {
        received.push(data.n);
        got.poke();
      });
      const subscribed = until(() => own.state.status === "subscribed", "user:alice to subscribe");
      own.on("subscribed", subscribed.poke);
      await subscribed.done;
      await hub.herald.publish("user:alice", "note", { n: 7 });
      await got.done;
      assert.deepEqual(received, [7]);
      assert.equal(client.state, "connected");
      assert.deepEqual(changes.map((change) => change.newState), ["connecting", "connected"], "the connection never dropped");
    } finally {
      client.disconnect();
      await hub.close();
    }
  });
});
