/** Channel patterns in token claims: a name, or a name with `*` standing for any run of characters. */

const cache = new Map<string, RegExp>();

export function channelMatches(pattern: string, channel: string): boolean {
  if (!pattern.includes("*")) return pattern === channel;
  let regex = cache.get(pattern);
  if (!regex) {
    const source = pattern.split("*").map((part) => part.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")).join(".*");
    regex = new RegExp(`^${source}$`);
    if (cache.size < 10_000) cache.set(pattern, regex);
  }
  return regex.test(channel);
}

export function anyChannelMatches(patterns: readonly string[], channel: string): boolean {
  return patterns.some((pattern) => channelMatches(pattern, channel));
}
