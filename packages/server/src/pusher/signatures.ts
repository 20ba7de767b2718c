/**
 * Pusher's HMAC-SHA256 signatures with an app's secret: a channel authorization is the app key and
 * the hex signature of `socket_id:channel` (and `:channel_data` when the authorizer returned it,
 * as it must for presence channels). Compared in constant time.
 */

import { createHmac, timingSafeEqual } from "node:crypto";
import type { PusherApp } from "./apps.js";

export function sign(secret: string, text: string): string {
  return createHmac("sha256", secret).update(text).digest("hex");
}

/** Whether `given` is the hex signature `expected`; the time taken does not depend on where they differ. */
export function sameSignature(expected: string, given: string): boolean {
  if (!/^[0-9a-fA-F]{64}$/.test(given)) return false;
  return timingSafeEqual(Buffer.from(expected, "hex"), Buffer.from(given, "hex"));
}

/** What is wrong with a subscription's `auth`, or undefined when it authorizes the channel for this socket. */
export function channelAuthProblem(app: PusherApp, socketId: string, channel: string, auth: unknown, channelData: string | undefined): string | undefined {
  const signed = channelData === undefined ? `${socketId}:${channel}` : `${socketId}:${channel}:${channelData}`;
  if (typeof auth !== "string" || auth.length === 0) return `Invalid signature: ${channel} needs an auth field: the app key and the HMAC SHA256 hex digest of ${signed}`;
  const colon = auth.indexOf(":");
  const key = auth.slice(0, colon);
  if (colon === -1 || key !== app.key) return "Invalid key in auth field: it must start with this app's key and a colon";
  if (!sameSignature(sign(app.secret, signed), auth.slice(colon + 1))) return `Invalid signature: Expected HMAC SHA256 hex digest of ${signed}, but got ${auth.slice(colon + 1, colon + 101)}`;
  return undefined;
}

/** What is wrong with a pusher:signin's `auth`, or undefined when it signs `socket_id::user::user_data` with the app's secret. */
export function userAuthProblem(app: PusherApp, socketId: string, auth: unknown, userData: string): string | undefined {
  const signed = `${socketId}::user::${userData}`;
  if (typeof auth !== "string" || auth.length === 0) return `pusher:signin needs an auth field: the app key and the HMAC SHA256 hex digest of ${signed}`;
  const colon = auth.indexOf(":");
  if (colon === -1 || auth.slice(0, colon) !== app.key) return "Invalid key in auth field: it must start with this app's key and a colon";
  if (!sameSignature(sign(app.secret, signed), auth.slice(colon + 1))) return `Invalid signature: Expected HMAC SHA256 hex digest of ${signed}`;
  return undefined;
}
