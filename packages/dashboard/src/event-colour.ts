/**
 * One colour per event type, the same on every load and in every tab: the type's name is hashed
 * (FNV-1a, 32 bit) onto a palette chosen to stay readable on the dark background. Types that say
 * they are errors are always red, so a failure stands out whatever its exact name.
 */

export const PALETTE = ["#5eead4", "#93c5fd", "#c4b5fd", "#f9a8d4", "#fcd34d", "#86efac", "#fdba74", "#67e8f9", "#a5b4fc", "#bef264"] as const;
export const ERROR_COLOUR = "#f87171";

export function colourOf(type: string): string {
  if (/error|fail|reject/i.test(type)) return ERROR_COLOUR;
  let hash = 0x811c9dc5;
  for (let i = 0; i < type.length; i++) {
    hash ^= type.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return PALETTE[hash % PALETTE.length]!;
}
