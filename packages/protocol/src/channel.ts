/** Channel and event-type names: what is allowed, and the namespace a channel belongs to. */

export const MAX_CHANNEL_LENGTH = 255;
export const MAX_EVENT_TYPE_LENGTH = 64;

// Letters, digits and the separators that real channel names use: user ids, wallet
// addresses, emails and paths. No spaces or control characters, so names are safe in URLs and logs.
const CHANNEL_PATTERN = /^[A-Za-z0-9_\-:.@/=+,]+$/;
const EVENT_TYPE_PATTERN = /^[A-Za-z0-9_\-.:]+$/;

/** Frame types of the protocol; events may not take these names. */
export const CONTROL_TYPES: ReadonlySet<string> = new Set([
  "connected",
  "subscribed",
  "unsubscribed",
  "published",
  "ping",
  "pong",
  "error",
  "subscribe",
  "unsubscribe",
  "publish",
  "auth",
]);

/** Returns a message saying what is wrong with the name, or undefined when it is valid. */
export function channelProblem(channel: unknown): string | undefined {
  if (typeof channel !== "string" || channel.length === 0) return "channel must be a non-empty string";
  if (channel.length > MAX_CHANNEL_LENGTH) {
    return `channel is ${channel.length} characters long; the limit is ${MAX_CHANNEL_LENGTH}`;
  }
  if (!CHANNEL_PATTERN.test(channel)) {
    return "channel may contain only letters, digits and _ - : . @ / = + ,";
  }
  return undefined;
}

/** Returns a message saying what is wrong with the event type, or undefined when it is valid. */
export function eventTypeProblem(type: unknown): { code: "invalid_event_type" | "reserved_event_type"; message: string } | undefined {
  if (typeof type !== "string" || type.length === 0) {
    return { code: "invalid_event_type", message: "event type must be a non-empty string" };
  }
  if (type.length > MAX_EVENT_TYPE_LENGTH) {
    return { code: "invalid_event_type", message: `event type is ${type.length} characters long; the limit is ${MAX_EVENT_TYPE_LENGTH}` };
  }
  if (!EVENT_TYPE_PATTERN.test(type)) {
    return { code: "invalid_event_type", message: "event type may contain only letters, digits and _ - . :" };
  }
  if (CONTROL_TYPES.has(type)) {
    return { code: "reserved_event_type", message: `"${type}" is a control frame type; choose another event name` };
  }
  return undefined;
}

/** The part of a channel name before its first `:`, or "" when it has none. */
export function namespaceOf(channel: string): string {
  const colon = channel.indexOf(":");
  return colon === -1 ? "" : channel.slice(0, colon);
}
