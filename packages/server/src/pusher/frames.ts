/**
 * Pusher protocol frames: `{"event","channel?","data"}` JSON text. Server frames carry `data` as a
 * JSON-encoded string where Pusher does (connection_established, subscription_succeeded, events),
 * and as an object in `pusher:error` and `pusher:subscription_error`, as Pusher clients expect.
 */

export const PING_FRAME = '{"event":"pusher:ping","data":"{}"}';
export const PONG_FRAME = '{"event":"pusher:pong","data":"{}"}';

export function connectionEstablished(socketId: string, activityTimeoutSeconds: number): string {
  return JSON.stringify({ event: "pusher:connection_established", data: JSON.stringify({ socket_id: socketId, activity_timeout: activityTimeoutSeconds }) });
}

export function errorFrame(code: number | null, message: string): string {
  return JSON.stringify({ event: "pusher:error", data: { code, message } });
}

export function subscriptionSucceeded(channel: string, data: unknown = {}): string {
  return JSON.stringify({ event: "pusher_internal:subscription_succeeded", channel, data: JSON.stringify(data) });
}

export function cacheMiss(channel: string): string {
  return JSON.stringify({ event: "pusher:cache_miss", channel, data: "{}" });
}

export function signinSuccess(userData: string): string {
  return JSON.stringify({ event: "pusher:signin_success", data: JSON.stringify({ user_data: userData }) });
}

/** The refusal of one subscription; `type` and `status` as pusher-js reports its own auth failures. */
export function subscriptionError(channel: string, type: string, error: string, status: number): string {
  return JSON.stringify({ event: "pusher:subscription_error", channel, data: { type, error, status } });
}

/** An event for a channel: `data` is the string Pusher clients parse; `userId` marks a presence client event. */
export function eventFrame(event: string, channel: string, data: string, userId?: string): string {
  return JSON.stringify(userId === undefined ? { event, channel, data } : { event, channel, data, user_id: userId });
}

export interface ClientMessage {
  readonly event: string;
  readonly channel?: unknown;
  readonly data?: unknown;
}

/** Reads a client's frame; undefined when it is not a JSON object with a string `event`. */
export function parseClientMessage(text: string): ClientMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  if (typeof record.event !== "string") return undefined;
  // Some clients send `data` JSON-encoded, as the server does.
  let data = record.data;
  if (typeof data === "string" && record.event.startsWith("pusher:")) {
    try {
      data = JSON.parse(data);
    } catch {
      // left as the string it is
    }
  }
  return { event: record.event, channel: record.channel, data };
}
