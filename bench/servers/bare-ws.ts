/**
 * The floor: a bare `ws` broadcast server, as small as such a server gets. Each published event is
 * encoded once to a Buffer and sent to each subscriber with ws.send (one frame per write). No
 * history, no recovery, no auth: what a hand-written hub does. Frames carry the same fields as
 * Herald's so that byte counts match.
 *
 * Client → server: {"type":"subscribe","channel"}; server → client: {"type":"subscribed","channel"}, events.
 * POST /api/publish {channel,type,data} publishes, like Herald's endpoint.
 */

import { createServer } from "node:http";
import { WebSocketServer, type WebSocket } from "ws";
import { eventsOf, readJson, reportToRunner, type PublishBody } from "./child.js";

const channels = new Map<string, Set<WebSocket>>();
const offsets = new Map<string, number>();

const server = createServer((request, response) => {
  if (request.method !== "POST" || request.url !== "/api/publish") {
    response.writeHead(404).end();
    return;
  }
  readJson(request).then(
    (body) => {
      const published: string[] = [];
      for (const { channel, type, data } of eventsOf(body as PublishBody)) {
        const offset = (offsets.get(channel) ?? 0) + 1;
        offsets.set(channel, offset);
        const frame = Buffer.from(`{"type":${JSON.stringify(type)},"channel":${JSON.stringify(channel)},"data":${JSON.stringify(data)},"offset":${offset},"epoch":"bare","timestamp":"${new Date().toISOString()}"}`);
        for (const socket of channels.get(channel) ?? []) socket.send(frame);
        published.push(`{"channel":${JSON.stringify(channel)},"offset":${offset}}`);
      }
      response.writeHead(200, { "content-type": "application/json" }).end(`{"published":[${published.join(",")}]}`);
    },
    () => response.writeHead(400).end(),
  );
});

const wss = new WebSocketServer({ server, perMessageDeflate: false, clientTracking: false });
wss.on("connection", (socket) => {
  const joined: string[] = [];
  socket.on("message", (raw) => {
    const message = JSON.parse(raw.toString()) as { type?: string; channel?: string };
    if (message.type !== "subscribe" || typeof message.channel !== "string") return;
    let members = channels.get(message.channel);
    if (!members) channels.set(message.channel, (members = new Set()));
    members.add(socket);
    joined.push(message.channel);
    socket.send(JSON.stringify({ type: "subscribed", channel: message.channel }));
  });
  socket.on("close", () => {
    for (const channel of joined) {
      const members = channels.get(channel);
      members?.delete(socket);
      if (members?.size === 0) channels.delete(channel);
    }
  });
});

server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  reportToRunner(typeof address === "object" && address ? address.port : 0, () => new Promise<void>((resolve) => server.close(() => resolve())));
});
