/**
 * Cursors for the HTTP transports: one opaque string that holds a position per channel.
 * SSE sends it as the event `id` (so `Last-Event-ID` resumes every channel at once) and polling
 * returns it as `cursor`. It is base64url JSON, `{"<channel>":["<epoch>",<offset>]}`, so it can be
 * read when debugging and stays URL-safe.
 */

import type { StreamPosition } from "./frames.js";

export type Cursor = Record<string, StreamPosition>;

const toBase64Url = (text: string): string => {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};

const fromBase64Url = (text: string): string => {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
};

export function encodeCursor(cursor: Cursor): string {
  const compact: Record<string, [string, number]> = {};
  for (const [channel, position] of Object.entries(cursor)) compact[channel] = [position.epoch, position.offset];
  return toBase64Url(JSON.stringify(compact));
}

/** Decodes a cursor; returns undefined when it is not one. */
export function decodeCursor(text: string): Cursor | undefined {
  if (text.length === 0 || text.length > 16_384 || !/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  let compact: unknown;
  try {
    compact = JSON.parse(fromBase64Url(text));
  } catch {
    return undefined;
  }
  if (typeof compact !== "object" || compact === null || Array.isArray(compact)) return undefined;
  const cursor: Cursor = {};
  for (const [channel, value] of Object.entries(compact)) {
    if (!Array.isArray(value) || value.length !== 2) return undefined;
    const [epoch, offset] = value as [unknown, unknown];
    if (typeof epoch !== "string" || typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0) return undefined;
    cursor[channel] = { epoch, offset };
  }
  return cursor;
}
