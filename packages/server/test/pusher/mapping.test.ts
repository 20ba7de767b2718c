/** The documented mapping of Pusher names onto Herald's, and the Pusher settings from the environment. */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { channelProblem, eventTypeProblem } from "@herald/protocol";
import { loadConfig } from "@herald/server";
import { PusherApps } from "../../src/pusher/apps.js";
import { heraldChannel, pusherChannel } from "../../src/pusher/channel-names.js";
import { heraldEventType, pusherEventName } from "../../src/pusher/event-mapping.js";

describe("Pusher names in Herald", () => {
  const app = new PusherApps([{ id: "42", key: "k", secret: "0123456789abcdef", clientEvents: false, clientEventsPerSecond: 10, maxEventBytes: 10240, maxPresenceMembers: 100, enabled: true, webhooks: [] }]).withId("42")!;

  it("maps each channel kind to its namespace, one-to-one, ; included", () => {
    const cases: Array<[string, string]> = [
      ["orders", "pusher-42:orders"],
      ["private-user.7", "pusher-42-private:private-user.7"],
      ["private-encrypted-x", "pusher-42-private:private-encrypted-x"],
      ["presence-room;1", "pusher-42-presence:presence-room+1"],
      ["#server-to-user-ada;7", "pusher-42-user:ada+7"],
      ["cache-prices=@,", "pusher-42:cache-prices=@,"],
    ];
    for (const [pusher, herald] of cases) {
      assert.equal(heraldChannel(app, pusher), herald);
      assert.equal(channelProblem(herald), undefined);
      assert.equal(pusherChannel(app, herald), pusher);
    }
    assert.equal(pusherChannel(app, "pusher-42:private-x"), undefined, "a private name in the public namespace is no Pusher channel");
    assert.equal(pusherChannel(app, "other:orders"), undefined);
  });

  it("keeps event names readable where it can, escapes \\ as .., and base64-encodes the rest; every name reads back", () => {
    const cases: Array<[string, string | RegExp]> = [
      ["order-shipped", "order-shipped"],
      ["client-typing", "client-typing"],
      ["App\\Events\\OrderShipped", "App..Events..OrderShipped"],
      ["Illuminate\\Notifications\\Events\\BroadcastNotificationCreated", "Illuminate..Notifications..Events..BroadcastNotificationCreated"],
      ["has..dots", /^b64\./],
      ["b64.looks-encoded", /^b64\./],
      ["error", /^b64\./],
      ["spaces and ünïcode", /^b64\./],
      ["a.\\b", /^b64\./],
    ];
    for (const [name, expected] of cases) {
      const type = heraldEventType(name)!;
      if (typeof expected === "string") assert.equal(type, expected);
      else assert.match(type, expected);
      assert.equal(eventTypeProblem(type), undefined, `${type} is a valid Herald type`);
      assert.equal(pusherEventName(type), name);
    }
    assert.equal(heraldEventType("x".repeat(65)), undefined, "too long for Herald's 64 characters even encoded");
  });

  it("reads the first app from HERALD_PUSHER_* and refuses two apps with one key", () => {
    const config = loadConfig({ env: { HERALD_PUSHER_APP_ID: "app-id", HERALD_PUSHER_KEY: "app-key", HERALD_PUSHER_SECRET: "app-secret-0123456789", HERALD_PUSHER_CLIENT_EVENTS: "true" } });
    assert.deepEqual(config.pusher.apps.map(({ id, key, clientEvents }) => ({ id, key, clientEvents })), [{ id: "app-id", key: "app-key", clientEvents: true }]);
    assert.throws(() => loadConfig({ env: {}, overrides: { pusher: { apps: [{ id: "a", key: "same", secret: "0123456789abcdef" }, { id: "b", key: "same", secret: "0123456789abcdef" }] } } }), /app key "same" is used by two pusher apps/);
    assert.throws(() => loadConfig({ env: { HERALD_PUSHER_APP_ID: "a", HERALD_PUSHER_KEY: "k", HERALD_PUSHER_SECRET: "short" } }), /at least 16 characters/);
  });
});
