/**
 * Laravel Echo with pusher-js, in Chromium: a page built with esbuild from the npm packages, as a
 * Laravel app ships it, listens on a private and a presence channel; its auth endpoint (served by
 * this test) signs with the `pusher` SDK's authorizeChannel, and the events are triggered with the
 * SDK, under Laravel's event names (`App\Events\OrderShipped`).
 */

import { after, before, describe, it } from "node:test";
import { createServer, type Server } from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { browserTestSkip, launchChromium, waitForText, type Chromium } from "../../../../examples/shared/browser-test.js";
import type { RunningHerald } from "../support/herald.js";
import { APP, serverSdk, startPusherHerald } from "../support/pusher.js";

const skip = browserTestSkip("Laravel Echo");

describe("Laravel Echo with pusher-js in Chromium", { skip }, () => {
  let running: RunningHerald;
  let site: Server;
  let siteUrl = "";
  let chromium: Chromium;

  before(async () => {
    running = await startPusherHerald();
    const { build } = await import("esbuild");
    const bundle = await build({ entryPoints: [fileURLToPath(new URL("./echo-page/page.js", import.meta.url))], bundle: true, format: "esm", platform: "browser", write: false, logLevel: "warning" });
    const script = bundle.outputFiles[0]!.text;
    const users: Record<string, { user_id: number; user_info: { id: number; name: string } }> = {
      ada: { user_id: 1, user_info: { id: 1, name: "Ada" } },
      bob: { user_id: 2, user_info: { id: 2, name: "Bob" } },
    };
    const sdk = serverSdk(running);
    // The Laravel app: its page, its script, and its /broadcasting/auth.
    site = createServer((request, response) => {
      if (request.method === "POST" && request.url === "/broadcasting/auth") {
        let body = "";
        request.on("data", (chunk: Buffer) => (body += chunk.toString()));
        request.on("end", () => {
          const form = new URLSearchParams(body);
          const user = users[String(request.headers["x-user"])];
          const socketId = form.get("socket_id")!;
          const channel = form.get("channel_name")!;
          if (!user) return void response.writeHead(403).end();
          const auth = channel.startsWith("presence-") ? sdk.authorizeChannel(socketId, channel, user as never) : sdk.authorizeChannel(socketId, channel);
          response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(auth));
        });
        return;
      }
      if (request.url?.startsWith("/page.js")) return void response.writeHead(200, { "content-type": "text/javascript" }).end(script);
      response.writeHead(200, { "content-type": "text/html" }).end('<!doctype html><p id="state"></p><p id="order"></p><p id="members"></p><p id="chat"></p><script type="module" src="/page.js"></script>');
    });
    site.listen(0, "127.0.0.1");
    await once(site, "listening");
    siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
    chromium = await launchChromium({ width: 800, height: 600 });
  });
  after(async () => {
    await chromium?.close();
    site?.closeAllConnections();
    site?.close();
    await running?.close();
  });

  const open = async (user: string): Promise<Page> => {
    const page = await chromium.browser.newPage();
    await page.goto(`${siteUrl}/?user=${user}&key=${APP.key}&wsPort=${running.herald.port}`);
    await waitForText(page, "state", "connected");
    return page;
  };

  it("shows events triggered with the pusher SDK on a private and a presence channel, and the presence members", async () => {
    const ada = await open("ada");
    await waitForText(ada, "members", "Ada");
    const sdk = serverSdk(running);
    await sdk.trigger("private-orders.7", "App\\Events\\OrderShipped", { id: 7, status: "shipped" });
    await waitForText(ada, "order", JSON.stringify({ id: 7, status: "shipped" }));

    const bob = await open("bob");
    await waitForText(bob, "members", "Ada,Bob");
    await waitForText(ada, "members", "Ada,Bob");
    await sdk.trigger("presence-room.1", "chat-message", { text: "hello from Laravel" });
    await waitForText(ada, "chat", "hello from Laravel");
    await waitForText(bob, "chat", "hello from Laravel");

    await bob.close();
    await waitForText(ada, "members", "Ada");
    await ada.close();
  });
});
