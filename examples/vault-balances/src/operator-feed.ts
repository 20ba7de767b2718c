/**
 * The operations desks' feed: after every change to a vault, a `vault_snapshot` of the whole vault
 * (balances, positions, the latest operations) on `ops:vault:<owner>`, tagged with the desk that
 * looks after it. The operator page follows every vault at once (`ops:vault:*`), keeps only its
 * desk's (`desk=north`), and the `ops` namespace sends each snapshot as a delta from the vault's
 * previous one (herald.yaml), since one operation changes a few fields of it. The seed's own
 * channel, `vault:<owner>`, is left exactly as it was.
 */

import { createHash } from "node:crypto";
import type { Vaults, VaultEvent } from "./vault.js";

export type Desk = "north" | "south";

/** How many of a vault's latest operations a snapshot lists. */
const RECENT = 8;

/** Which desk looks after a vault: a stand-in for an operator's own assignment, stable per owner. */
export function deskOf(owner: string): Desk {
  return createHash("sha256").update(owner).digest()[0]! % 2 === 0 ? "north" : "south";
}

export class OperatorFeed {
  private readonly recent = new Map<string, Array<{ type: string; amount: number; positionId?: string }>>();

  constructor(private readonly vaults: Vaults) {}

  /** The snapshot of `owner`'s vault after `events`, and its tags. */
  snapshot(owner: string, events: VaultEvent[]): { channel: string; data: Record<string, unknown>; tags: { desk: Desk } } {
    const list = this.recent.get(owner) ?? [];
    for (const event of events) {
      if (event.type === "balance_update") continue;
      const { amount, positionId, transactionType } = event.data as { amount: number; positionId?: string; transactionType?: string };
      list.unshift({ type: transactionType ?? event.type, amount, ...(positionId === undefined ? {} : { positionId }) });
    }
    list.length = Math.min(list.length, RECENT);
    this.recent.set(owner, list);
    const data = { ...this.vaults.balance(owner), positions: this.vaults.positions(owner), recent: list };
    return { channel: `ops:vault:${owner}`, data, tags: { desk: deskOf(owner) } };
  }
}
