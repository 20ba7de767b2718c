/**
 * Cache channels (`cache-`, `private-cache-`, `presence-cache-`) with the real pusher-js and the
 * real `pusher` SDK: a new subscriber first gets the channel's last event, from history, or
 * pusher:cache_miss (and the app's cache_miss webhook).
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RunningHerald } from "../support/herald.js";
import { startReceiver, type WebhookReceiver } from "../support/webhook-receiver.js";
import { APP, PusherClient, collect, serverSdk, settle, startPusherHerald, until } from "../support/pusher.js";

describe("Pusher cache channels", () => {
  let running: RunningHerald;
  let receiver: WebhookReceiver;
  const clients: PusherClient[] = [];

  /** A new pusher-js subscriber, with everything it heard on the channel from the start, in order. */
  const subscriber = async (name: string, user = "anon"): Promise<string[]> => {
    const client = await PusherClient.connect(running, { user: { user_id: user } });
    clients.push(client);
    const channel = client.pusher.subscribe(name);
    const heard: string[] = [];
    channel.bind_global((event: string, data: unknown) => heard.push(event === "price" ? `price ${JSON.stringify(data)}` : event));
    await until(`subscription_succeeded on ${name}`, () => heard.includes("pusher:subscription_succeeded"));
    return heard;
  };

  before(async () => {
    receiver = await startReceiver(() => 200);
    running = await startPusherHerald({ pusher: { apps: [{ ...APP, webhooks: [{ url: receiver.url, events: ["cache_miss"] }] }] } });
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await running?.close();
    await receiver?.close();
  });

  for (const name of ["cache-prices", "private-cache-prices", "presence-cache-prices"]) {
    it(`${name}: pusher:cache_miss while nothing was triggered, then the last event triggered, once, before live ones`, async () => {
      const first = await subscriber(name, "first");
      await until("cache_miss", () => first.includes("pusher:cache_miss"));
      assert.deepEqual(first.slice(0, 2), ["pusher:subscription_succeeded", "pusher:cache_miss"]);
      await until("the cache_miss webhook", () => receiver.hits.some((hit) => hit.raw.includes(`"${name}"`)));
      const hook = receiver.hits.find((hit) => hit.raw.includes(`"${name}"`))!;
      assert.ok(serverSdk(running).webhook({ headers: hook.headers as Record<string, string>, rawBody: hook.raw }).isValid());
      assert.deepEqual(hook.body.events, [{ name: "cache_miss", channel: name }]);

      const sdk = serverSdk(running);
      await sdk.trigger(name, "price", { v: 1 });
      await sdk.trigger(name, "price", { v: 2 });
      const second = await subscriber(name, "second");
      await until("the cached event", () => second.length >= 2);
      await sdk.trigger(name, "price", { v: 3 });
      await until("the live event", () => second.includes('price {"v":3}'));
      await settle();
      const prices = second.filter((event) => event.startsWith("price"));
      assert.deepEqual(prices, ['price {"v":2}', 'price {"v":3}']);
      assert.equal(second[0], "pusher:subscription_succeeded");
      assert.equal(second[1], 'price {"v":2}');
      assert.ok(!second.includes("pusher:cache_miss"));
    });
  }
});
