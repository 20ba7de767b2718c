/**
 * End-to-end encrypted channels (`private-encrypted-`) with the real pusher-js, which decrypts with
 * the shared secret its auth endpoint gave, and the real `pusher` SDK, which encrypts with the
 * master key: Herald passes the payload through without reading it.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { RunningHerald } from "../support/herald.js";
import { APP, PusherClient, collect, serverSdk, startPusherHerald, until } from "../support/pusher.js";

describe("Pusher encrypted channels", () => {
  const encryptionMasterKeyBase64 = randomBytes(32).toString("base64");
  let running: RunningHerald;
  const clients: PusherClient[] = [];

  before(async () => {
    running = await startPusherHerald();
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await running?.close();
  });

  it("delivers what the SDK encrypted to pusher-js, which decrypts it; Herald holds only the ciphertext", async () => {
    const client = await PusherClient.connect(running, { encryptionMasterKeyBase64 });
    clients.push(client);
    const channel = await client.subscribe("private-encrypted-payroll");
    const heard = collect(channel, "salary-paid");
    await serverSdk(running, APP, { encryptionMasterKeyBase64 }).trigger("private-encrypted-payroll", "salary-paid", { employee: "ada", amount: 4200 });
    await until("the decrypted event", () => heard.length === 1);
    assert.deepEqual(heard[0]!.data, { employee: "ada", amount: 4200 });

    const { events } = await running.herald.hub.history("pusher-app1-private:private-encrypted-payroll", { limit: 10 });
    const stored = events.find((event) => event.type === "salary-paid")!;
    assert.deepEqual(Object.keys(stored.data as object).sort(), ["ciphertext", "nonce"]);
    assert.ok(!JSON.stringify(stored.data).includes("ada"), "the hub never sees the plaintext");
  });
});
