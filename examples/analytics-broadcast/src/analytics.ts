/**
 * The analytics data the seed's REST API served: payment anchors, corridors between assets, and
 * snapshots of the whole (an epoch number and a hash). Kept in memory; each change returns the
 * update the seed broadcast for it. No I/O here.
 */

import { createHash, randomUUID } from "node:crypto";

export type AnchorStatus = "green" | "yellow" | "red";

export interface Anchor {
  id: string;
  name: string;
  stellar_account: string;
  reliability_score: number;
  status: AnchorStatus;
}

export interface Corridor {
  id: string;
  corridor_key: string;
  success_rate: number;
  volume_usd: number;
  total_transactions: number;
}

export interface Snapshot {
  id: string;
  epoch: number;
  timestamp: string;
  hash: string;
}

export interface AnchorInput {
  name: string;
  stellar_account: string;
  reliability_score?: number;
}

export interface CorridorInput {
  corridor_key: string;
  success_rate?: number;
  volume_usd?: number;
  total_transactions?: number;
}

/** The status colour the dashboard shows for a reliability score (percent). */
export function statusOf(score: number): AnchorStatus {
  return score >= 95 ? "green" : score >= 80 ? "yellow" : "red";
}

export class Analytics {
  readonly anchors = new Map<string, Anchor>();
  readonly corridors = new Map<string, Corridor>();
  readonly snapshots: Snapshot[] = [];

  createAnchor(input: AnchorInput): Anchor {
    const score = input.reliability_score ?? 100;
    const anchor: Anchor = { id: randomUUID(), name: input.name, stellar_account: input.stellar_account, reliability_score: score, status: statusOf(score) };
    this.anchors.set(anchor.id, anchor);
    return anchor;
  }

  /** Undefined when there is no such anchor. */
  updateAnchor(id: string, change: Partial<AnchorInput>): Anchor | undefined {
    const anchor = this.anchors.get(id);
    if (!anchor) return undefined;
    Object.assign(anchor, change);
    anchor.status = statusOf(anchor.reliability_score);
    return anchor;
  }

  createCorridor(input: CorridorInput): Corridor {
    const corridor: Corridor = { id: randomUUID(), success_rate: 100, volume_usd: 0, total_transactions: 0, ...input };
    this.corridors.set(corridor.id, corridor);
    return corridor;
  }

  updateCorridor(id: string, change: Partial<CorridorInput>): Corridor | undefined {
    const corridor = this.corridors.get(id);
    if (!corridor) return undefined;
    Object.assign(corridor, change);
    return corridor;
  }

  /** A new snapshot of every anchor and corridor: the next epoch, with the hash of its content. */
  takeSnapshot(): Snapshot {
    const content = JSON.stringify({ anchors: [...this.anchors.values()], corridors: [...this.corridors.values()] });
    const snapshot: Snapshot = {
      id: randomUUID(),
      epoch: this.snapshots.length + 1,
      timestamp: new Date().toISOString(),
      hash: createHash("sha256").update(content).digest("hex"),
    };
    this.snapshots.push(snapshot);
    return snapshot;
  }
}

/** The broadcast bodies, field for field as the seed's messages (the route adds `type`). */
export const updates = {
  anchor: (anchor: Anchor) => ({ anchor_id: anchor.id, name: anchor.name, reliability_score: anchor.reliability_score, status: anchor.status }),
  corridor: (corridor: Corridor) => ({
    corridor_id: corridor.id,
    corridor_key: corridor.corridor_key,
    success_rate: corridor.success_rate,
    volume_usd: corridor.volume_usd,
    total_transactions: corridor.total_transactions,
  }),
  snapshot: (snapshot: Snapshot) => ({ snapshot_id: snapshot.id, epoch: snapshot.epoch, timestamp: snapshot.timestamp, hash: snapshot.hash }),
};
