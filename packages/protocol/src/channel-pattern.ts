/**
 * Channel patterns, as written in token claims, integration rules, the dashboard's filter and
 * pattern subscriptions (`subscribe` with `channel: "orders:*"`): a channel name in which `*`
 * stands for any run of characters (none included, `:` included); everything else is literal, so
 * `user:*` matches `user:7` and `user:7:inbox`, and `a.b` does not match `axb`.
 *
 * A pattern subscription must name its namespace literally (`orders:*`, `user:42:*`, `*:x` is
 * not one): the namespace's rules are then known when the subscribe arrives, and a pattern can
 * never span every channel of the hub.
 */

import { MAX_CHANNEL_LENGTH, namespaceOf } from "./channel.js";

// Patterns come from configuration and signed tokens, so there are few; the bound only keeps a
// stream of distinct ones (e.g. many users' tokens) from growing memory without limit.
const MAX_CACHED_PATTERNS = 10_000;
const compiled = new Map<string, RegExp>();

export function channelMatches(pattern: string, channel: string): boolean {
  if (!pattern.includes("*")) return pattern === channel;
  let regex = compiled.get(pattern);
  if (!regex) {
    regex = patternRegExp(pattern);
    if (compiled.size < MAX_CACHED_PATTERNS) compiled.set(pattern, regex);
  }
  return regex.test(channel);
}

/** The RegExp that matches exactly the channels a pattern does. */
function patternRegExp(pattern: string): RegExp {
  return new RegExp(`^${pattern.split("*").map(escapeRegExp).join(".*")}$`, "s");
}

export function anyChannelMatches(patterns: readonly string[], channel: string): boolean {
  return patterns.some((pattern) => channelMatches(pattern, channel));
}

/** Escapes every character that has a meaning in a RegExp, so the rest of the pattern stays literal. */
function escapeRegExp(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Whether a name given where a channel is expected is a pattern: `*` is not a channel character. */
export function isChannelPattern(name: string): boolean {
  return name.includes("*");
}

// A channel's characters plus `*`.
const PATTERN_CHARACTERS = /^[A-Za-z0-9_\-:.@/=+,*]+$/;

/**
 * What is wrong with a pattern subscription's pattern, or undefined when it is valid: `invalid_channel`
 * for its characters or length, `pattern_too_broad` when its namespace is not written out.
 */
export function patternProblem(pattern: string): { code: "invalid_channel" | "pattern_too_broad"; message: string } | undefined {
  if (pattern.length > MAX_CHANNEL_LENGTH) {
    return { code: "invalid_channel", message: `pattern is ${pattern.length} characters long; the limit is ${MAX_CHANNEL_LENGTH}` };
  }
  if (!PATTERN_CHARACTERS.test(pattern)) return { code: "invalid_channel", message: "pattern may contain only letters, digits, * and _ - : . @ / = + ," };
  const namespace = namespaceOf(patternPrefix(pattern));
  if (namespace === "" || namespace.includes("*")) {
    return { code: "pattern_too_broad", message: `pattern "${pattern}" must start with its namespace and ":" before any *, e.g. "orders:*"` };
  }
  return undefined;
}

/** The literal part of a pattern before its first `*`: every channel it matches starts with it. */
export function patternPrefix(pattern: string): string {
  const star = pattern.indexOf("*");
  return star === -1 ? pattern : pattern.slice(0, star);
}
