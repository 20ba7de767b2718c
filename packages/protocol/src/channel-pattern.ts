/**
 * Channel patterns, as written in token claims, integration rules and the dashboard's filter: a
 * channel name in which `*` stands for any run of characters (none included); everything else is
 * literal, so `user:*` matches `user:7` and `a.b` does not match `axb`.
 */

// Patterns come from configuration and signed tokens, so there are few; the bound only keeps a
// stream of distinct ones (e.g. many users' tokens) from growing memory without limit.
const MAX_CACHED_PATTERNS = 10_000;
const compiled = new Map<string, RegExp>();

export function channelMatches(pattern: string, channel: string): boolean {
  if (!pattern.includes("*")) return pattern === channel;
  let regex = compiled.get(pattern);
  if (!regex) {
    regex = new RegExp(`^${pattern.split("*").map(escapeRegExp).join(".*")}$`, "s");
    if (compiled.size < MAX_CACHED_PATTERNS) compiled.set(pattern, regex);
  }
  return regex.test(channel);
}

export function anyChannelMatches(patterns: readonly string[], channel: string): boolean {
  return patterns.some((pattern) => channelMatches(pattern, channel));
}

/** Escapes every character that has a meaning in a RegExp, so the rest of the pattern stays literal. */
function escapeRegExp(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
