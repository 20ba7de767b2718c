/**
 * Resource attacks over real sockets: a flood of connections from one IP, a frame flood (also one
 * of forbidden subscribes), a 100 MB frame, a decompression bomb, a slowloris handshake. Each is
 * refused with its documented code, the process stays up, and an honest client alongside receives
 * every one of its events.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import WebSocket from "ws";
import { TestClient, getJson, startHerald } from "../support/herald.js";
import { deadline } from "../support/deadline.js";
import { HonestClient, SECRET, assertAlive, hs256, rawSocket, readUntilClosed, upgradeStatus } from "./attack-support.js";

async function limitHits(url: string, limit: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = new RegExp(`^herald_limit_hits_total\\{[^}]*limit="${limit}"[^}]*\\} (\\d+)`, "m").exec(text);
  return match ? Number(match[1]) : 0;
}

describe("resource attacks", () => {
  it("a flood of connections from one IP: refused with 429 past the per-IP cap", async () => {
    const hub = await startHerald({ limits: { maxConnectionsPerIp: 20 } });
    const honest = await HonestClient.connect(hub);
    const flood: WebSocket[] = [];
    let refused = 0;
    for (let i = 0; i < 40; i++) {
      const socket = new WebSocket(`${hub.wsUrl}/ws`);
      flood.push(socket);
      const outcome = await Promise.race([once(socket, "open").then(() => "open"), once(socket, "unexpected-response").then(([, response]) => String(response.statusCode))]);
      if (outcome === "429") refused += 1;
    }
    assert.equal(refused, 21, "the honest client and 19 flood sockets fit under 20; 21 are refused");
    assert.equal((await upgradeStatus(hub, "/ws")).status, 429);
    assert.ok((await limitHits(hub.url, "connections_per_ip")) >= 21);
    for (const socket of flood) socket.terminate();
    await assertAlive(hub);
    await honest.assertReceivesEverything(hub);
    await honest.close();
    await hub.close();
  });

  it("new connections too fast from one IP: refused with 429 by the token bucket", async () => {
    const hub = await startHerald({ limits: { connectionRatePerIp: 1, connectionBurstPerIp: 5 } });
    const honest = await HonestClient.connect(hub);
    const statuses = [];
    for (let i = 0; i < 8; i++) statuses.push((await upgradeStatus(hub, "/ws")).status);
    assert.ok(statuses.filter((status) => status === 429).length >= 3, `statuses: ${statuses}`);
    assert.ok((await limitHits(hub.url, "connection_rate")) >= 3);
    await honest.assertReceivesEverything(hub);
    await honest.close();
    await hub.close();
  });

  it("a frame flood: rate_limited error frame, then close 1008", async () => {
    const hub = await startHerald({ limits: { framesPerSecond: 50, frameBurst: 100 } });
    const honest = await HonestClient.connect(hub);
    const attacker = await TestClient.open(`${hub.wsUrl}/ws`);
    for (let i = 0; i < 5_000 && attacker.socket.readyState === WebSocket.OPEN; i++) attacker.send({ type: "ping" });
    const error = await attacker.next("error");
    assert.equal(error.code, "rate_limited");
    assert.equal((await attacker.closed).code, 1008);
    assert.ok((await limitHits(hub.url, "frame_rate")) >= 1);
    await assertAlive(hub);
    await honest.assertReceivesEverything(hub);
    await honest.close();
    await hub.close();
  });

  it("a flood of forbidden subscribes is rate limited like any frame: rate_limited, then close 1008", async () => {
    const hub = await startHerald({ auth: { jwt: { secret: SECRET } }, namespaces: { user: { personal: true } }, limits: { framesPerSecond: 50, frameBurst: 100 } });
    const honest = await HonestClient.connect(hub, "honest:feed", `?token=${await hs256({ sub: "honest" }, { expiresIn: "1h" })}`);
    const attacker = await TestClient.open(`${hub.wsUrl}/ws?token=${await hs256({ sub: "mallory" }, { expiresIn: "1h" })}`);
    // One forbidden subscribe is that subscription's refusal alone: the connection stays.
    attacker.send({ type: "subscribe", id: "probe", channel: "user:alice" });
    const refused = await attacker.next("error");
    assert.deepEqual([refused.id, refused.code], ["probe", "forbidden"]);
    for (let i = 0; i < 5_000 && attacker.socket.readyState === WebSocket.OPEN; i++) attacker.send({ type: "subscribe", id: i, channel: `user:victim-${i}` });
    await attacker.next((frame) => frame.type === "error" && frame.code === "rate_limited");
    assert.equal((await attacker.closed).code, 1008);
    assert.ok((await limitHits(hub.url, "frame_rate")) >= 1);
    await assertAlive(hub);
    await honest.assertReceivesEverything(hub);
    await honest.close();
    await hub.close();
  });

  it("a 100 MB frame: refused on its length header with close 1009, without reading 100 MB", async () => {
    const hub = await startHerald();
    const honest = await HonestClient.connect(hub);
    const socket = await rawSocket(hub);
    const received = readUntilClosed(socket);
    socket.write(
      ["GET /ws HTTP/1.1", `Host: 127.0.0.1:${hub.herald.port}`, "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="].join("\r\n") + "\r\n\r\n",
    );
    await deadline(once(socket, "data"), "the upgrade answer");
    // FIN + text opcode, masked, 64-bit length = 100 MiB, a mask key, then a little data.
    const header = Buffer.alloc(14);
    header[0] = 0x81;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(100 * 1024 * 1024), 2);
    header.writeUInt32BE(0x01020304, 10);
    socket.write(Buffer.concat([header, Buffer.alloc(4096, 0x61)]));
    const bytes = await deadline(received, "the server to close the oversized-frame socket");
    // The server's close frame: opcode 0x88, then the status code 1009.
    const close = bytes.indexOf(Buffer.from([0x88]));
    assert.ok(close >= 0, "a close frame came back");
    assert.equal(bytes.readUInt16BE(close + 2), 1009);
    await assertAlive(hub);
    await honest.assertReceivesEverything(hub);
    await honest.close();
    await hub.close();
  });

  it("a decompression bomb with permessage-deflate on: closed with 1009 on the inflated size", async () => {
    const hub = await startHerald({ websocket: { perMessageDeflate: true } });
    const honest = await HonestClient.connect(hub);
    const bomber = new WebSocket(`${hub.wsUrl}/ws`, { perMessageDeflate: true });
    await deadline(once(bomber, "open"), "the bomber's socket to open");
    assert.match(String(bomber.extensions), /permessage-deflate/);
    // 16 MiB of one byte deflates to about 16 KiB on the wire, under maxPayload (64 KiB); inflated it is far over.
    bomber.send(Buffer.alloc(16 * 1024 * 1024, 0x20).toString());
    const [code] = (await deadline(once(bomber, "close"), "the bomber to be closed", 15_000)) as [number];
    assert.equal(code, 1009);
    await assertAlive(hub);
    await honest.assertReceivesEverything(hub);
    await honest.close();
    await hub.close();
  });

  it("a slowloris handshake (headers byte by byte): the socket is dropped at the handshake timeout", async () => {
    const hub = await startHerald({ limits: { handshakeTimeout: "800ms" } });
    const honest = await HonestClient.connect(hub);
    const socket = await rawSocket(hub);
    const closed = readUntilClosed(socket);
    const request = `GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Padding: ${"a".repeat(200)}`;
    let sent = 0;
    const drip = setInterval(() => {
      if (sent < request.length && !socket.destroyed) socket.write(request[sent++]!);
    }, 20);
    await deadline(closed, "the server to drop the slowloris socket", 15_000).finally(() => clearInterval(drip));
    assert.ok(sent < request.length, "the server hung up before the headers were complete");
    assert.ok((await limitHits(hub.url, "handshake_timeout")) >= 1);
    await assertAlive(hub);
    await honest.assertReceivesEverything(hub);
    const status = await getJson(`${hub.url}/api/status`);
    assert.equal(status.body.connections, 1);
    await honest.close();
    await hub.close();
  });
});
