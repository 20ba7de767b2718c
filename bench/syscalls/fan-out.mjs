// The fan-out of bench/syscalls/count.sh: N clients subscribe to `bench`, wait for a line on stdin,
// then 40 events are published with 4 in flight; exits once every client has every event.
import { Agent, request } from "node:http";
import WebSocket from "ws";

const [port, subscribers] = [Number(process.argv[2]), Number(process.argv[3] ?? 4000)];
const EVENTS = 40;
const open = (i) =>
  new Promise((resolve, reject) => {
    // Spread over 127.0.0.x so that no per-IP limit or ephemeral port range is reached.
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { localAddress: `127.0.0.${2 + (i % 200)}` });
    ws.received = 0;
    ws.on("message", (raw) => {
      const frame = JSON.parse(raw);
      if (frame.type === "connected") ws.send(JSON.stringify({ type: "subscribe", channel: "bench" }));
      else if (frame.type === "subscribed") resolve(ws);
      else if (frame.type === "tick") ws.received += 1;
    });
    ws.on("error", reject);
  });
const clients = [];
for (let i = 0; i < subscribers; i += 100) clients.push(...(await Promise.all(Array.from({ length: Math.min(100, subscribers - i) }, (_, k) => open(i + k)))));
const agent = new Agent({ keepAlive: true, maxSockets: 8 });
const publish = () =>
  new Promise((resolve, reject) => {
    const body = JSON.stringify({ channel: "bench", type: "tick", data: { t: Date.now() } });
    const req = request(`http://127.0.0.1:${port}/api/publish`, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on("end", resolve);
    });
    req.on("error", reject);
    req.end(body);
  });
console.error("subscribed");
await new Promise((resolve) => process.stdin.once("data", resolve));
let issued = 0;
await Promise.all(Array.from({ length: 4 }, async () => { while (issued < EVENTS) { issued += 1; await publish(); } }));
const total = () => clients.reduce((sum, ws) => sum + ws.received, 0);
const deadline = Date.now() + 60_000;
while (total() < EVENTS * subscribers && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
console.error(`deliveries ${total()} of ${EVENTS * subscribers}`);
for (const ws of clients) ws.terminate();
process.exit(0);
