/** Shared by the attack tests: an honest client that must not notice the attack, and raw sockets. */

import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { SignJWT, type JWTPayload } from "jose";
import { TestClient, getJson, type RunningHerald } from "../support/herald.js";

/** A well-behaved subscriber connected before an attack starts. */
export class HonestClient {
  private published = 0;

  private constructor(
    readonly client: TestClient,
    readonly channel: string,
  ) {}

  static async connect(hub: RunningHerald, channel = "honest:feed", query = ""): Promise<HonestClient> {
    const client = await TestClient.open(`${hub.wsUrl}/ws${query}`);
    const answer = await client.subscribe(channel);
    assert.equal(answer.type, "subscribed", `the honest client subscribes: ${JSON.stringify(answer)}`);
    return new HonestClient(client, channel);
  }

  /** Publishes `count` events and asserts the honest client received every one, in order. */
  async assertReceivesEverything(hub: RunningHerald, count = 20): Promise<void> {
    const first = this.published + 1;
    for (let i = 0; i < count; i++) await hub.herald.publish(this.channel, "tick", { n: first + i });
    this.published += count;
    const events = await this.client.take(count, (frame) => frame.type === "tick", 15_000);
    assert.deepEqual(
      events.map((event) => (event.data as { n: number }).n),
      Array.from({ length: count }, (_, i) => first + i),
    );
    assert.equal(this.client.closeCode, undefined, "the honest client is still connected");
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/** The process answers and its engine is up. */
export async function assertAlive(hub: RunningHerald): Promise<void> {
  const health = await getJson(`${hub.url}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(health.body.status, "ok");
}

export const SECRET = "hs256-shared-secret-for-tests-0123456789";

export async function hs256(claims: JWTPayload, options: { secret?: string; expiresIn?: string | number } = {}): Promise<string> {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt();
  if (options.expiresIn !== undefined) jwt = jwt.setExpirationTime(options.expiresIn);
  return jwt.sign(new TextEncoder().encode(options.secret ?? SECRET));
}

/** An unsigned token (`alg: none`), as an attacker would write it by hand. */
export function unsignedToken(claims: JWTPayload): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "none", typ: "JWT" })}.${part(claims)}.`;
}

/** Opens a raw TCP connection to the hub. */
export async function rawSocket(hub: RunningHerald): Promise<Socket> {
  const socket = connect(hub.herald.port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return socket;
}

/** Everything a raw socket receives until the server closes it. */
export function readUntilClosed(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve) => {
    socket.once("close", () => resolve(Buffer.concat(chunks)));
    socket.once("error", () => undefined);
  });
}

/** Sends a raw WebSocket upgrade request and returns the HTTP status line the server answers with. */
export async function upgradeStatus(hub: RunningHerald, path: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const socket = await rawSocket(hub);
  const received = readUntilClosed(socket);
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${hub.herald.port}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Version: 13",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.write(lines.join("\r\n") + "\r\n\r\n");
  // A 101 keeps the socket open: read the first chunk then, and close it ourselves.
  const first = await new Promise<string>((resolve) => socket.once("data", (chunk: Buffer) => resolve(chunk.toString())));
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(first)?.[1] ?? 0);
  socket.destroy();
  const text = (await received).toString() || first;
  return { status, text };
}
