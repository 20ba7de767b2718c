/** Export of the events shown, as JSON (the frames) or CSV (one row per event, data as JSON). */

import type { FeedEvent } from "./feed-event";

export function toJson(events: readonly FeedEvent[]): string {
  return JSON.stringify(events, null, 2);
}

const CSV_COLUMNS = ["timestamp", "channel", "type", "offset", "epoch", "data"] as const;

/** RFC 4180: fields with a comma, quote or line break are quoted, quotes doubled. */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function toCsv(events: readonly FeedEvent[]): string {
  const rows = events.map((e) => [e.timestamp, e.channel, e.type, String(e.offset), e.epoch, JSON.stringify(e.data) ?? ""].map(csvField).join(","));
  return [CSV_COLUMNS.join(","), ...rows].join("\r\n") + "\r\n";
}

export function download(name: string, type: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
