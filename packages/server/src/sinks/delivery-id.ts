/**
 * Stable delivery ids: the same event always yields the same id, on any node and after any restart,
 * so a receiver can drop the rare repeat (a try whose answer was lost) and a queue can refuse to
 * store one delivery twice (a publish retried after its first answer failed). Shaped like a UUID
 * so that receivers which store ids in a uuid column keep working.
 */

import { createHash } from "node:crypto";

export function deliveryId(...parts: ReadonlyArray<string | number>): string {
  const hex = createHash("sha256").update(parts.join("\n")).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
