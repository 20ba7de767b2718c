import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket as ServerSocket } from "ws";
import { Server as SocketIoServer, type Socket as SocketIoSocket } from "socket.io";
import { TestClient, getJson, startHerald } from "../support/herald.js";
import { deadline } from "../support/deadline.js";

/** Waits for the next emission of `event` on `emitter` that satisfies `match`; fails after 15 s. */
function when<T extends unknown[]>(emitter: NodeJS.EventEmitter, event: string, match: (...args: T) => boolean = () => true): Promise<T> {
  let listener: (...args: T) => void = () => undefined;
  const emitted = new Promise<T>((resolve) => {
    listener = (...args: T): void => {
      if (!match(...args)) return;
      emitter.off(event, listener as never);
      resolve(args);
    };
    emitter.on(event, listener as never);
  });
  return deadline(emitted, `the upstream's "${event}"`, 15_000).finally(() => emitter.off(event, listener as never));
}

/** A plain WebSocket feed whose side of each connection the test watches. */
async function startWsFeed(port = 0) {
  const server = new WebSocketServer({ port, host: "127.0.0.1" });
  await once(server, "listening");
  const feed = Object.assign(new (await import("node:events")).EventEmitter(), {
    port: (server.address() as AddressInfo).port,
    sockets: new Set<ServerSocket>(),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of server.clients) socket.terminate();
        server.close(() => resolve());
      }),
  });
  server.on("connection", (socket) => {
    feed.sockets.add(socket);
    feed.emit("connection", socket);
    socket.on("message", (data) => feed.emit("frame", JSON.parse(data.toString()), socket));
    socket.on("close", () => {
      feed.sockets.delete(socket);
      feed.emit("disconnect", socket);
    });
  });
  return feed;
}

describe("upstream bridges", () => {
  it("websocket: connects when the first subscriber joins, maps messages, survives bad ones, leaves with the last subscriber, resumes after an upstream restart", async () => {
    let feed = await startWsFeed();
    const port = feed.port;
    const hub = await startHerald({
      bridges: [
        {
          name: "exchange",
          url: `ws://127.0.0.1:${port}/stream`,
          protocol: "websocket",
          subscribe: [{ op: "subscribe", topics: ["orders"] }],
          map: [{ match: { e: "ORDER_UPDATE" }, channel: "orders:{account}", type: "order_update", data: "o" }],
          channels: ["orders:*"],
          linger: 0,
        },
      ],
    });
    const status = async () => (await getJson(`${hub.url}/api/status`, hub.adminHeaders)).body.integrations.bridges[0];
    try {
      assert.equal(feed.sockets.size, 0, "lazy: no upstream connection without subscribers");
      assert.equal((await status()).state, "idle");

      const client = await TestClient.open(`${hub.wsUrl}/ws`);
      const subscribeFrame = when(feed, "frame");
      await client.subscribe("orders:acc1");
      const [frame, upstreamSocket] = (await subscribeFrame) as [unknown, ServerSocket];
      assert.deepEqual(frame, { op: "subscribe", topics: ["orders"] });
      assert.equal(feed.sockets.size, 1);

      upstreamSocket.send("this is not JSON");
      upstreamSocket.send(JSON.stringify({ e: "ORDER_UPDATE", account: "acc1", o: { id: 1, qty: 5 } }));
      const event = await client.next("order_update");
      assert.deepEqual(event.data, { id: 1, qty: 5 });
      assert.equal(event.channel, "orders:acc1");
      const during = await status();
      assert.equal(during.state, "connected");
      assert.equal(during.subscribers, 1);
      assert.equal(during.messages, 2);
      assert.equal(during.errors, 1, "the malformed message is counted, and the bridge keeps going");

      const gone = when(feed, "disconnect");
      client.send({ type: "unsubscribe", channel: "orders:acc1" });
      await gone;
      assert.equal(feed.sockets.size, 0, "the last subscriber left: the bridge disconnected");

      // Subscribed again, then the upstream restarts: the bridge reconnects and subscribes again.
      const again = when(feed, "frame");
      await client.subscribe("orders:acc1");
      await again;
      await feed.close();
      feed = await startWsFeed(port);
      const [, resumedSocket] = (await when(feed, "frame")) as [unknown, ServerSocket];
      resumedSocket.send(JSON.stringify({ e: "ORDER_UPDATE", account: "acc1", o: { id: 2 } }));
      const resumed = await client.next("order_update", 10_000);
      assert.deepEqual(resumed.data, { id: 2 });
      assert.equal((await status()).connects, 3);
      await client.close();
      await when(feed, "disconnect");
    } finally {
      await hub.close();
      await feed.close();
    }
  });

  it("websocket: a rule's tag templates tag each event, so a subscriber's filter picks them; a missing field leaves its tag out", async () => {
    const feed = await startWsFeed();
    const hub = await startHerald({
      bridges: [
        {
          name: "trades",
          url: `ws://127.0.0.1:${feed.port}/stream`,
          map: [{ match: { e: "TRADE" }, channel: "trades:{venue}", type: "trade", data: "t", tags: { symbol: "{t.s}", side: "{t.side}" } }],
          channels: ["trades:*"],
          linger: 0,
        },
      ],
    });
    const buys = await TestClient.open(`${hub.wsUrl}/ws`);
    try {
      const connected = when(feed, "connection");
      assert.equal((await buys.subscribe("trades:x", { filter: "symbol=BTC and side=buy" })).type, "subscribed");
      const [upstream] = (await connected) as [ServerSocket];
      for (const t of [{ s: "BTC", side: "sell", n: 1 }, { s: "ETH", side: "buy", n: 2 }, { s: "BTC", n: 3 }, { s: "BTC", side: "buy", n: 4 }]) {
        upstream.send(JSON.stringify({ e: "TRADE", venue: "x", t }));
      }
      const [event] = await buys.take(1, "trade");
      assert.deepEqual([event!.tags, (event!.data as { n: number }).n], [{ symbol: "BTC", side: "buy" }, 4]);
      const history = await hub.herald.hub.history("trades:x", {});
      assert.deepEqual(history.events.map((e) => e.tags), [{ symbol: "BTC", side: "sell" }, { symbol: "ETH", side: "buy" }, { symbol: "BTC" }, { symbol: "BTC", side: "buy" }]);
    } finally {
      await buys.close();
      await hub.close();
      await feed.close();
    }
  });

  it("socket.io: lazy connect and disconnect seen by the upstream, events mapped by name, resumes after a restart", async () => {
    const startIo = async (port = 0) => {
      const http: HttpServer = createServer();
      const io = new SocketIoServer(http);
      http.listen(port, "127.0.0.1");
      await once(http, "listening");
      return { io, port: (http.address() as AddressInfo).port, close: () => new Promise<void>((resolve) => io.close(() => resolve())) };
    };
    let upstream = await startIo();
    const port = upstream.port;
    const hub = await startHerald({
      bridges: [
        {
          name: "futures",
          url: `http://127.0.0.1:${port}`,
          protocol: "socket.io",
          subscribe: [["join", { channel: "coindcx" }]],
          map: [
            { match: "df-order-update", channel: "exchange:{data.account}", type: "order_update" },
            { match: "balance-update", channel: "exchange:{data.account}", type: "balance_update" },
          ],
          channels: ["exchange:*"],
          linger: 0,
        },
      ],
    });
    try {
      assert.equal(upstream.io.of("/").sockets.size, 0, "lazy: no upstream connection without subscribers");
      const client = await TestClient.open(`${hub.wsUrl}/ws`);
      const joined = when<[SocketIoSocket]>(upstream.io, "connection");
      await client.subscribe("exchange:acc9");
      const [socket] = await joined;
      await when(socket, "join");
      socket.emit("df-order-update", { account: "acc9", id: 7, status: "filled" });
      socket.emit("unmapped-event", { account: "acc9" });
      socket.emit("balance-update", { account: "acc9", balance: 10 });
      const order = await client.next("order_update");
      assert.deepEqual(order.data, { account: "acc9", id: 7, status: "filled" });
      const balance = await client.next("balance_update");
      assert.deepEqual(balance.data, { account: "acc9", balance: 10 });

      const left = when(socket, "disconnect");
      client.send({ type: "unsubscribe", channel: "exchange:acc9" });
      await left;
      assert.equal(upstream.io.of("/").sockets.size, 0, "the last subscriber left: the bridge disconnected");

      const rejoined = when<[SocketIoSocket]>(upstream.io, "connection");
      await client.subscribe("exchange:acc9");
      await rejoined;
      await upstream.close();
      upstream = await startIo(port);
      const [resumed] = await when<[SocketIoSocket]>(upstream.io, "connection");
      await when(resumed, "join");
      resumed.emit("df-order-update", { account: "acc9", id: 8 });
      const after = await client.next("order_update", 10_000);
      assert.deepEqual(after.data, { account: "acc9", id: 8 });
      const bridge = (await getJson(`${hub.url}/api/status`, hub.adminHeaders)).body.integrations.bridges[0];
      assert.equal(bridge.state, "connected");
      assert.equal(bridge.connects, 3);
      await client.close();
    } finally {
      await hub.close();
      await upstream.close();
    }
  });
});
