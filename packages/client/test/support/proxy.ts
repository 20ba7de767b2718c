/**
 * Test support: an HTTP proxy in front of a Herald that can cut every connection (a network drop,
 * seen by the client as an abnormal close) and refuse WebSocket upgrades or SSE on demand (a
 * corporate proxy that blocks them), to exercise reconnect, recovery and transport fallback.
 */

import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";

export class FlakyProxy {
  refuseWebSocket = false;
  refuseSse = false;
  /** While true, every new connection is dropped at once: the network is down. */
  down = false;
  /** While true, WebSocket bytes are swallowed both ways but the sockets stay open: a silent, dead link. */
  stalled = false;
  /** Requests seen, by path ("/ws", "/sse", "/api/updates", ...). */
  readonly seen = new Map<string, number>();
  private readonly server: Server;
  private readonly sockets = new Set<Duplex>();

  private constructor(
    public target: string,
    private readonly staticDir: string | undefined,
  ) {
    this.server = createServer((request, response) => {
      if (this.down) return void request.socket.destroy();
      const path = this.count(request);
      if (this.staticDir && path !== "/sse" && !path.startsWith("/api/")) return void this.serveFile(path, response);
      if (path === "/sse" && this.refuseSse) {
        response.writeHead(403, { "content-type": "application/json", "access-control-allow-origin": "*" });
        response.end(JSON.stringify({ error: { code: "forbidden", message: "SSE blocked by the test proxy" } }));
        return;
      }
      const upstream = httpRequest(new URL(request.url ?? "/", this.target), { method: request.method, headers: request.headers }, (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      });
      upstream.on("error", () => response.destroy());
      upstream.on("socket", (socket) => this.track(socket));
      this.track(request.socket);
      request.pipe(upstream);
    });
    this.server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (this.down) return void socket.destroy();
      this.count(request);
      this.track(socket);
      if (this.refuseWebSocket) {
        socket.end("HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      const target = new URL(this.target);
      const upstream: Socket = connect(Number(target.port), target.hostname, () => {
        const lines = [`${request.method} ${request.url} HTTP/1.1`];
        for (let i = 0; i < request.rawHeaders.length; i += 2) lines.push(`${request.rawHeaders[i]}: ${request.rawHeaders[i + 1]}`);
        upstream.write(lines.join("\r\n") + "\r\n\r\n");
        if (head.length > 0) upstream.write(head);
        // Forwarded by hand rather than piped, so that `stall()` can swallow bytes in flight.
        upstream.on("data", (chunk: Buffer) => {
          if (!this.stalled) socket.write(chunk);
        });
        socket.on("data", (chunk: Buffer) => {
          if (!this.stalled) upstream.write(chunk);
        });
      });
      this.track(upstream);
      upstream.on("error", () => socket.destroy());
      socket.on("error", () => upstream.destroy());
      upstream.on("close", () => socket.destroy());
      socket.on("close", () => upstream.destroy());
    });
  }

  /** `staticDir`: also serve a built page from there, so that the page and Herald share an origin. */
  static async start(target: string, staticDir?: string): Promise<FlakyProxy> {
    const proxy = new FlakyProxy(target, staticDir);
    proxy.server.listen(0, "127.0.0.1");
    await once(proxy.server, "listening");
    return proxy;
  }

  get url(): string {
    const address = this.server.address();
    if (typeof address !== "object" || !address) throw new Error("proxy not listening");
    return `http://127.0.0.1:${address.port}`;
  }

  /** Takes the network down (every connection dropped, new ones too) until `restore()`. */
  fail(): void {
    this.down = true;
    this.cut();
  }

  restore(): void {
    this.down = false;
  }

  /** Drops every open connection at the TCP level. */
  cut(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    this.cut();
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, "close");
  }

  private async serveFile(path: string, response: ServerResponse): Promise<void> {
    const types: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".map": "application/json" };
    const file = normalize(join(this.staticDir!, path === "/" ? "index.html" : path));
    if (!file.startsWith(normalize(this.staticDir!))) return void response.writeHead(403).end();
    try {
      const body = await readFile(file);
      response.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" }).end(body);
    } catch {
      response.writeHead(404).end();
    }
  }

  private count(request: IncomingMessage): string {
    const path = new URL(request.url ?? "/", "http://x").pathname;
    this.seen.set(path, (this.seen.get(path) ?? 0) + 1);
    return path;
  }

  private track(socket: Duplex): void {
    if (this.sockets.has(socket)) return;
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
  }
}
