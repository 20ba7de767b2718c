/**
 * The collateral vaults: one per owner (a Solana public key), amounts in USDT base units
 * (6 decimals, so 100 USDT is 100_000_000), as in the seed. Each operation changes the vault at
 * once and returns the events that describe the change, in the order the owner's devices must
 * see them; the API publishes them. No I/O here.
 */

import { randomBytes, randomUUID } from "node:crypto";

export interface Balance {
  owner: string;
  totalBalance: number;
  lockedBalance: number;
  availableBalance: number;
}

export interface VaultEvent {
  type: "balance_update" | "transaction_confirmed" | "collateral_locked" | "collateral_unlocked";
  data: Record<string, unknown>;
}

/** A refused operation; `code` is what the REST API answers. */
export class VaultError extends Error {
  constructor(
    readonly code: "insufficient_available_balance" | "unknown_position" | "position_exists",
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = "VaultError";
  }
}

interface VaultState {
  total: number;
  /** Collateral locked per trading position. */
  positions: Map<string, number>;
}

export class Vaults {
  private readonly vaults = new Map<string, VaultState>();

  balance(owner: string): Balance {
    const vault = this.vaults.get(owner);
    const locked = vault ? [...vault.positions.values()].reduce((sum, amount) => sum + amount, 0) : 0;
    const total = vault?.total ?? 0;
    return { owner, totalBalance: total, lockedBalance: locked, availableBalance: total - locked };
  }

  positions(owner: string): Array<{ positionId: string; amount: number }> {
    return [...(this.vaults.get(owner)?.positions ?? [])].map(([positionId, amount]) => ({ positionId, amount }));
  }

  deposit(owner: string, amount: number): VaultEvent[] {
    this.vault(owner).total += amount;
    return [confirmed("deposit", amount), { type: "balance_update", data: { ...this.balance(owner) } }];
  }

  withdraw(owner: string, amount: number): VaultEvent[] {
    const available = this.balance(owner).availableBalance;
    if (amount > available) throw new VaultError("insufficient_available_balance", `cannot withdraw ${amount}: only ${available} is available`, 409);
    this.vault(owner).total -= amount;
    return [confirmed("withdraw", amount), { type: "balance_update", data: { ...this.balance(owner) } }];
  }

  lock(owner: string, amount: number, positionId: string): VaultEvent[] {
    const vault = this.vault(owner);
    if (vault.positions.has(positionId)) throw new VaultError("position_exists", `position ${positionId} already holds collateral`, 409);
    const available = this.balance(owner).availableBalance;
    if (amount > available) throw new VaultError("insufficient_available_balance", `cannot lock ${amount}: only ${available} is available`, 409);
    vault.positions.set(positionId, amount);
    return this.collateralEvents("collateral_locked", owner, amount, positionId);
  }

  unlock(owner: string, positionId: string): VaultEvent[] {
    const vault = this.vaults.get(owner);
    const amount = vault?.positions.get(positionId);
    if (vault === undefined || amount === undefined) throw new VaultError("unknown_position", `no collateral is locked for position ${positionId}`, 404);
    vault.positions.delete(positionId);
    return this.collateralEvents("collateral_unlocked", owner, amount, positionId);
  }

  private collateralEvents(type: "collateral_locked" | "collateral_unlocked", owner: string, amount: number, positionId: string): VaultEvent[] {
    const balance = this.balance(owner);
    return [
      { type, data: { owner, amount, positionId, lockedBalance: balance.lockedBalance, availableBalance: balance.availableBalance } },
      { type: "balance_update", data: { ...balance } },
    ];
  }

  private vault(owner: string): VaultState {
    let vault = this.vaults.get(owner);
    if (!vault) this.vaults.set(owner, (vault = { total: 0, positions: new Map() }));
    return vault;
  }
}

function confirmed(transactionType: "deposit" | "withdraw", amount: number): VaultEvent {
  // Stands in for the on-chain signature the seed's backend reported.
  const signature = randomBytes(32).toString("base64url");
  return { type: "transaction_confirmed", data: { transactionId: randomUUID(), transactionType, amount, signature } };
}
