/**
 * The vault REST API: deposit, withdraw, lock and unlock, plus the balance for a page's first
 * paint. Every change is published in-process with herald.publish to `vault:<owner>`, which the
 * route /ws/{pubkey} (herald.yaml) and SDK subscribers both read.
 */

import type { FastifyInstance, FastifyReply } from "fastify";
import { z } from "zod";
import type { Herald } from "@herald/server";
import { VaultError, Vaults, type VaultEvent } from "./vault.js";
import { OperatorFeed } from "./operator-feed.js";

// The same rule as the route's `pubkey` parameter in herald.yaml (base58, 32 to 44 characters).
const owner = z.string().regex(/^[1-9A-HJ-NP-Za-km-z]{32,44}$/, "owner must be a base58 Solana public key");
const amount = z.number().int("amount is in USDT base units (6 decimals): a whole number").positive("amount must be positive");
const positionId = z.string().min(1).max(64);

const bodies = {
  deposit: z.strictObject({ owner, amount }),
  withdraw: z.strictObject({ owner, amount }),
  lock: z.strictObject({ owner, amount, positionId }),
  unlock: z.strictObject({ owner, positionId }),
};

export function registerVaultApi(app: FastifyInstance, herald: Herald, vaults = new Vaults()): void {
  const publisher = new OrderedPublisher(herald);
  const feed = new OperatorFeed(vaults);

  app.get<{ Params: { owner: string } }>("/vault/balance/:owner", async (request, reply) => {
    const parsed = owner.safeParse(request.params.owner);
    if (!parsed.success) return invalid(reply, parsed.error);
    return { ...vaults.balance(parsed.data), positions: vaults.positions(parsed.data) };
  });

  const operation = <K extends keyof typeof bodies>(name: K, run: (body: z.output<(typeof bodies)[K]>) => VaultEvent[]) =>
    app.post(`/vault/${name}`, async (request, reply) => {
      const parsed = bodies[name].safeParse(request.body);
      if (!parsed.success) return invalid(reply, parsed.error);
      let events: VaultEvent[];
      try {
        events = run(parsed.data as z.output<(typeof bodies)[K]>);
      } catch (error) {
        if (error instanceof VaultError) return reply.code(error.status).send({ error: { code: error.code, message: error.message } });
        throw error;
      }
      await publisher.publish(`vault:${parsed.data.owner}`, events);
      // The desks' view, on a channel of its own: what the seed's devices receive does not change.
      const snapshot = feed.snapshot(parsed.data.owner, events);
      await publisher.publish(snapshot.channel, [{ type: "vault_snapshot", data: snapshot.data }], snapshot.tags);
      return vaults.balance(parsed.data.owner);
    });

  operation("deposit", (body) => vaults.deposit(body.owner, body.amount));
  operation("withdraw", (body) => vaults.withdraw(body.owner, body.amount));
  operation("lock", (body) => vaults.lock(body.owner, body.amount, body.positionId));
  operation("unlock", (body) => vaults.unlock(body.owner, body.positionId));
}

function invalid(reply: FastifyReply, error: z.ZodError) {
  const issue = error.issues[0]!;
  const where = issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
  return reply.code(400).send({ error: { code: "invalid_request", message: `${where}${issue.message}` } });
}

/**
 * Publishes each channel's events one batch after another. Two requests for the same vault may
 * run at once; without the chain, the older balance_update could be published after the newer
 * one and every device would end on a stale balance.
 */
class OrderedPublisher {
  private readonly tails = new Map<string, Promise<void>>();

  constructor(private readonly herald: Herald) {}

  publish(channel: string, events: Array<{ type: string; data: unknown }>, tags?: Record<string, string>): Promise<void> {
    const previous = this.tails.get(channel) ?? Promise.resolve();
    const done = previous.then(async () => {
      for (const event of events) await this.herald.publish(channel, event.type, event.data, tags === undefined ? {} : { tags });
    });
    const tail = done.catch(() => undefined);
    this.tails.set(channel, tail);
    void tail.then(() => {
      if (this.tails.get(channel) === tail) this.tails.delete(channel);
    });
    return done;
  }
}
