/**
 * Pusher webhooks of a node that dies: three nodes on a Redis started by the test (two in this
 * process, one a child process through the CLI), pusher-js clients on each, a real webhook
 * receiver verified with the `pusher` SDK. The child is SIGKILLed: once its entries expired
 * (engine.presenceTtl), one of the nodes left posts member_removed for each member whose last
 * connection was on it and channel_vacated for each channel it leaves empty, once; members and
 * channels still held on a node that is up are not reported.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HeraldConfigInput } from "@herald/server";
import type { RunningHerald } from "../support/herald.js";
import { startNodeProcess, type NodeProcess } from "../support/node-process.js";
import { RedisServer, redisServerSkip } from "../support/redis-server.js";
import { startReceiver, type WebhookReceiver } from "../support/webhook-receiver.js";
import { APP, PusherClient, serverSdk, settle, startPusherHerald, until } from "../support/pusher.js";

/** Every event of every POST, as "name channel" or "name channel user"; a POST the SDK does not verify fails the test. */
function posted(receiver: WebhookReceiver, verifier: RunningHerald): string[] {
  return receiver.hits.flatMap((hit) => {
    const webhook = serverSdk(verifier).webhook({ headers: hit.headers as Record<string, string>, rawBody: hit.raw });
    assert.ok(webhook.isValid(), `the pusher SDK verifies the webhook: ${hit.raw}`);
    return (webhook.getEvents() as unknown as Array<{ name: string; channel: string; user_id?: string }>).map((event) => [event.name, event.channel, event.user_id].filter((part) => part !== undefined).join(" "));
  });
}

describe("Pusher webhooks of a SIGKILLed node (three nodes on Redis)", { skip: redisServerSkip() }, () => {
  let redis: RedisServer;
  let receiver: WebhookReceiver;
  let dir: string;
  let victim: NodeProcess | undefined;
  const survivors: RunningHerald[] = [];
  const clients: PusherClient[] = [];

  before(async () => {
    redis = await RedisServer.start();
    receiver = await startReceiver(() => 200);
    dir = mkdtempSync(join(tmpdir(), "herald-pusher-dead-"));
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await victim?.kill("SIGKILL");
    await Promise.all(survivors.map((node) => node.close()));
    await receiver.close();
    await redis.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("posts member_removed for the members whose last connection was on it and channel_vacated for the channels it leaves empty, once, after presenceTtl", async () => {
    const config: HeraldConfigInput = {
      engine: { type: "redis", redisUrl: redis.url, presenceTtl: "3s" },
      pusher: { leaveDelay: "500ms", apps: [{ ...APP, webhooks: [{ url: receiver.url }] }] },
    };
    const configFile = join(dir, "herald.json");
    writeFileSync(configFile, JSON.stringify(config));
    // Two nodes stay up, so what the dead node left is raced for: each must still be reported once.
    survivors.push(await startPusherHerald({ ...config, node: "node-a" }), await startPusherHerald({ ...config, node: "node-b" }));
    victim = await startNodeProcess("victim", {}, 30_000, ["--config", configFile]);
    const [a, b] = survivors as [RunningHerald, RunningHerald];
    const connect = async (target: RunningHerald | NodeProcess, user?: string): Promise<PusherClient> => {
      const client = await PusherClient.connect(target, user === undefined ? {} : { user: { user_id: user } });
      clients.push(client);
      return client;
    };

    // On the victim only: alice (two tabs) and dave, the channels news-dead and presence-solo.
    const onVictim = [await connect(victim, "alice"), await connect(victim, "alice"), await connect(victim, "dave"), await connect(victim, "bob")];
    const [alice1, alice2, dave, bobThere] = onVictim as [PusherClient, PusherClient, PusherClient, PusherClient];
    await Promise.all([alice1.subscribePresence("presence-room"), alice2.subscribePresence("presence-room"), bobThere.subscribePresence("presence-room")]);
    await dave.subscribePresence("presence-solo");
    await Promise.all([alice1.subscribe("news-dead"), alice2.subscribe("news-dead"), bobThere.subscribe("news-shared")]);
    // Still held on nodes that stay up: bob has a tab on node-a too, carol is in presence-room on node-b, news-shared has a subscriber on node-a.
    const bobHere = await connect(a, "bob");
    await bobHere.subscribePresence("presence-room");
    await bobHere.subscribe("news-shared");
    const carol = await connect(b, "carol");
    await carol.subscribePresence("presence-room");

    const joined = ["channel_occupied presence-room", "member_added presence-room alice", "member_added presence-room bob", "member_added presence-room carol", "channel_occupied presence-solo", "member_added presence-solo dave", "channel_occupied news-dead", "channel_occupied news-shared"];
    await until("the joins' webhooks", () => posted(receiver, a).length >= joined.length, 10_000);
    await settle(1_000);
    assert.deepEqual(posted(receiver, a).sort(), [...joined].sort(), "each join once");

    await victim.kill("SIGKILL");
    // Its clients would reconnect to the dead port; as users closing their tabs, they go.
    for (const client of onVictim) client.disconnect();
    const left = ["member_removed presence-room alice", "member_removed presence-solo dave", "channel_vacated presence-solo", "channel_vacated news-dead"];
    await until("the dead node's webhooks", () => posted(receiver, a).length >= joined.length + left.length, 20_000);
    // Long enough for every item to come due again (lease: half of presenceTtl) and be claimed by a node left.
    await settle(3_000);
    const after = posted(receiver, a).slice(joined.length);
    assert.deepEqual([...after].sort(), [...left].sort(), "each change once; bob (on node-a too), presence-room (carol) and news-shared (node-a) are still held");

    // A member held on a node that is up is reported by that node's own leave, once.
    bobHere.disconnect();
    await until("member_removed bob", () => posted(receiver, a).includes("member_removed presence-room bob"), 10_000);
    await settle(1_000);
    assert.deepEqual(posted(receiver, a).slice(joined.length + left.length).sort(), ["channel_vacated news-shared", "member_removed presence-room bob"]);
  });
});
