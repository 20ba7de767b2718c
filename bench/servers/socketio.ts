/**
 * The popular peer: a Socket.IO server with rooms, one room per channel (the in-memory adapter,
 * its default). Clients emit "subscribe" with the channel name and an ack; POST /api/publish
 * emits the event to the room. WebSocket transport only, so the comparison is transport to transport.
 */

import { createServer } from "node:http";
import { Server } from "socket.io";
import { eventsOf, readJson, reportToRunner, type PublishBody } from "./child.js";

const offsets = new Map<string, number>();

const server = createServer((request, response) => {
  if (request.method !== "POST" || request.url !== "/api/publish") return; // socket.io answers its own paths
  readJson(request).then(
    (body) => {
      const published: string[] = [];
      for (const { channel, type, data } of eventsOf(body as PublishBody)) {
        const offset = (offsets.get(channel) ?? 0) + 1;
        offsets.set(channel, offset);
        io.to(channel).emit(type, { channel, data, offset, timestamp: new Date().toISOString() });
        published.push(`{"channel":${JSON.stringify(channel)},"offset":${offset}}`);
      }
      response.writeHead(200, { "content-type": "application/json" }).end(`{"published":[${published.join(",")}]}`);
    },
    () => response.writeHead(400).end(),
  );
});

const io = new Server(server, { transports: ["websocket"], perMessageDeflate: false, serveClient: false, pingInterval: 600_000, pingTimeout: 600_000 });
io.on("connection", (socket) => {
  socket.on("subscribe", (channel: unknown, ack?: (answer: unknown) => void) => {
    if (typeof channel !== "string") return;
    void socket.join(channel);
    ack?.({ type: "subscribed", channel });
  });
});

server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  reportToRunner(typeof address === "object" && address ? address.port : 0, () => new Promise<void>((resolve) => { void io.close(() => resolve()); }));
});
