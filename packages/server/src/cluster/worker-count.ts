/** `herald serve --workers N|auto` (or HERALD_WORKERS): how many processes serve the port. */

import { availableParallelism } from "node:os";

/** The worker count `text` asks for: `auto` is one per core; nothing is 1 (no workers, one process). */
export function workerCount(text: string | undefined, cores: () => number = availableParallelism): number {
  if (text === undefined || text.trim() === "") return 1;
  const value = text.trim().toLowerCase();
  if (value === "auto") return Math.max(1, cores());
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new Error(`--workers (or HERALD_WORKERS) must be a whole number of at least 1, or auto; got "${text}"`);
  return Number(value);
}
