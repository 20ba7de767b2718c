/**
 * A local stand-in for the CoinDCX Futures feed: a Socket.IO server whose clients `join` the
 * `coindcx` channel and then receive `df-order-update`, `df-position-update` and `balance-update`
 * events shaped as the seed shows them. A small HTTP API places test orders (the seed's
 * testcoindcxf_auto.py), and a timer can emit position and balance updates on its own.
 * (The real feed wraps each payload in a JSON string; this one sends the objects.)
 */

import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";

export interface OrderRequest {
  pair?: string;
  side?: "buy" | "sell";
  price?: number;
  quantity?: number;
  leverage?: number;
}

export interface FakeExchange {
  /** http://host:port, for Socket.IO clients and the HTTP API. */
  url: string;
  /** Socket.IO clients connected right now. */
  clients(): number;
  placeOrder(request?: OrderRequest): Record<string, unknown>;
  /** Emits one position and one balance update. */
  tick(): void;
  close(): Promise<void>;
}

const ROOM = "coindcx";

export async function startFakeExchange(options: { port?: number; host?: string; interval?: number } = {}): Promise<FakeExchange> {
  const http = createServer((request, response) => void handle(request, response));
  const io = new Server(http, { serveClient: false });
  let balance = 1_650_841.59606695;
  let locked = 355_112.43845;

  io.on("connection", (socket) => {
    socket.on("join", (payload: { channelName?: string } | undefined) => {
      if (payload?.channelName === ROOM) void socket.join(ROOM);
    });
  });

  const placeOrder = (request: OrderRequest = {}): Record<string, unknown> => {
    const pair = request.pair ?? "B-ETH_USDT";
    const side = request.side ?? "buy";
    const quantity = request.quantity ?? 0.01;
    const order = {
      id: randomUUID(),
      pair,
      side,
      status: "open",
      order_type: "limit_order",
      price: request.price ?? 3500,
      total_quantity: quantity,
      filled_quantity: 0,
      remaining_quantity: quantity,
      leverage: request.leverage ?? 3,
      display_message: `${pair.replace(/^B-/, "").split("_")[0]} limit ${side} order placed!`,
      created_at: Date.now(),
    };
    io.to(ROOM).emit("df-order-update", order);
    return order;
  };

  const tick = (): void => {
    locked = Math.max(0, locked + (Math.random() - 0.5) * 1000);
    balance += (Math.random() - 0.5) * 500;
    io.to(ROOM).emit("df-position-update", {
      id: "position-eth",
      pair: "B-ETH_USDT",
      active_pos: 0.01,
      avg_price: 3500,
      liquidation_price: 2380.5,
      locked_margin: 11.67,
      unrealized_pnl: Math.round((Math.random() - 0.4) * 500) / 100,
    });
    io.to(ROOM).emit("balance-update", { currency_short_name: "INR", balance: balance.toFixed(14), locked_balance: locked.toFixed(14) });
  };

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const reply = (status: number, body: unknown): void => {
      response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    };
    if (request.method === "POST" && request.url === "/orders") {
      let text = "";
      for await (const chunk of request) text += String(chunk);
      try {
        return reply(201, placeOrder(text ? (JSON.parse(text) as OrderRequest) : {}));
      } catch {
        return reply(400, { error: { code: "invalid_json", message: "send the order as a JSON object" } });
      }
    }
    if (request.method === "POST" && request.url === "/tick") {
      tick();
      return reply(202, { emitted: ["df-position-update", "balance-update"] });
    }
    reply(404, { error: { code: "not_found", message: "POST /orders or POST /tick" } });
  }

  await new Promise<void>((resolve) => http.listen(options.port ?? 8090, options.host ?? "127.0.0.1", resolve));
  const timer = options.interval ? setInterval(tick, options.interval) : undefined;
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://${options.host ?? "127.0.0.1"}:${port}`,
    clients: () => io.of("/").sockets.size,
    placeOrder,
    tick,
    close: async () => {
      if (timer) clearInterval(timer);
      await io.close();
    },
  };
}
