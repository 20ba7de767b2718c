import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from "node:net";
import { TestClient, getJson, postJson, startHerald } from "../support/herald.js";
import { deadline } from "../support/deadline.js";
import { messageId, startSmtp } from "../support/smtp-server.js";

describe("email sink", () => {
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let directory: HttpServer;
  let directoryUrl: string;

  before(async () => {
    smtp = await startSmtp();
    // A user directory the `lookup` rule asks for the recipient.
    directory = createHttpServer((request, response) => {
      const id = request.url!.split("/").pop();
      response.setHeader("content-type", "application/json");
      response.end(JSON.stringify({ email: `user-${id}@example.test` }));
    });
    directory.listen(0, "127.0.0.1");
    await once(directory, "listening");
    directoryUrl = `http://127.0.0.1:${(directory.address() as AddressInfo).port}`;
  });
  after(async () => {
    await smtp.close();
    directory.close();
  });

  it("emails the bettor with the rule's recipient, subject and content", async () => {
    const hub = await startHerald(
      {
        sinks: {
          email: {
            rules: [
              {
                on: { channel: "bets:*", types: ["bet_resolved"] },
                to: "{data.email}",
                subject: "Your bet {data.bet_id} is settled: {data.result}",
                text: "Bet {data.bet_id} on {channel}: {data.result}.",
                html: "<p>Result: <b>{data.result}</b> {data.note}</p>",
              },
              { on: { channel: "users:*", types: ["welcome"] }, lookup: `${directoryUrl}/users/{data.user_id}`, subject: "Welcome", text: "Hello {data.user_id}" },
            ],
          },
        },
      },
      { env: { SMTP_SERVER: "127.0.0.1", SMTP_PORT: String(smtp.port), FROM_EMAIL: "noreply@betthat.test", FROM_NAME: "Bet That" } },
    );
    try {
      await postJson(`${hub.url}/api/publish`, { channel: "bets:other", type: "bet_updated", data: { email: "nobody@example.test" } });
      await postJson(`${hub.url}/api/publish`, {
        channel: "bets:user456",
        type: "bet_resolved",
        data: { email: "bettor@example.test", bet_id: "123", result: "win", note: "<script>x</script>" },
      });
      const mail = await smtp.next();
      assert.deepEqual(mail.to, ["bettor@example.test"]);
      assert.equal(mail.from, "noreply@betthat.test");
      assert.match(mail.raw, /^From: "?Bet That"? <noreply@betthat\.test>/m);
      assert.match(mail.raw, /^Subject: Your bet 123 is settled: win/m);
      assert.match(mail.raw, /Bet 123 on bets:user456: win\./);
      assert.match(mail.raw, /&lt;script&gt;/, "data in html is escaped");
      assert.match(messageId(mail.raw) ?? "", /^<[0-9a-f-]{36}@betthat\.test>$/, "the Message-ID is the delivery id at the sender's domain");

      await postJson(`${hub.url}/api/publish`, { channel: "users:7", type: "welcome", data: { user_id: 7 } });
      const welcome = await smtp.next();
      assert.deepEqual(welcome.to, ["user-7@example.test"]);
      await deadline(hub.herald.integrations.email!.idle(), "the email queue to drain");
      const status = await getJson(`${hub.url}/api/status`, hub.adminHeaders);
      assert.equal(status.body.integrations.email.sent, 2, "the bet_updated event matched no rule");
      assert.equal(smtp.messages.length, 2);
    } finally {
      await hub.close();
    }
  });

  it("never delays sockets: with the SMTP server silent or down, the event arrives at once; failures are counted", async () => {
    // A TCP server that accepts and never answers: the worst SMTP server there is.
    const held: Socket[] = [];
    const silent: TcpServer = createTcpServer((socket) => held.push(socket));
    silent.listen(0, "127.0.0.1");
    await once(silent, "listening");
    const silentPort = (silent.address() as AddressInfo).port;
    const rule = { on: { channel: "bets:*" }, to: "{data.email}", subject: "s", text: "t" };
    const hub = await startHerald({ sinks: { email: { smtp: { host: "127.0.0.1", port: silentPort }, rules: [rule] } } });
    const client = await TestClient.open(`${hub.wsUrl}/ws`);
    try {
      await client.subscribe("bets:u1");
      await postJson(`${hub.url}/api/publish`, { channel: "bets:u1", type: "bet_resolved", data: { email: "a@example.test" } });
      const event = await client.next("bet_resolved");
      assert.equal(event.channel, "bets:u1");
      const status = await hub.herald.integrations.email!.status();
      assert.equal(status.sent, 0);
      assert.equal(status.queued, 1, "the email is still waiting on the silent server while the socket already has the event");
    } finally {
      await client.close();
      await hub.close();
      for (const socket of held) socket.destroy();
      silent.close();
    }

    // Down: nothing listens on the port. Each try fails fast; after the last one it is counted as failed.
    const down = await startHerald({ sinks: { email: { smtp: { host: "127.0.0.1", port: silentPort }, rules: [rule], attempts: 2, retryDelay: 20 } } });
    const second = await TestClient.open(`${down.wsUrl}/ws`);
    try {
      await second.subscribe("bets:u2");
      await postJson(`${down.url}/api/publish`, { channel: "bets:u2", type: "bet_resolved", data: { email: "b@example.test" } });
      await second.next("bet_resolved");
      await deadline(down.herald.integrations.email!.idle(), "the email queue to drain");
      const status = (await getJson(`${down.url}/api/status`, down.adminHeaders)).body.integrations.email;
      assert.equal(status.failed, 1);
      assert.equal(status.retries, 1);
      assert.match(status.lastError, /ECONNREFUSED|connect/i);
    } finally {
      await second.close();
      await down.close();
    }
  });
});
