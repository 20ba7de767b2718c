/**
 * How a Pusher event becomes a Herald event and back: its name and its data.
 *
 * Names. Pusher allows any name up to 200 characters; a Herald event type is 1 to 64 characters
 * of `A-Z a-z 0-9 _ - . :` and not a control type (protocol.md). The Herald type of a Pusher name:
 *   1. the name itself, when it is a valid Herald type, holds no `..` and does not start with `b64.`;
 *   2. else, for names that only add `\` (Laravel's `App\Events\OrderShipped`), the name with each
 *      `\` written `..` (`App..Events..OrderShipped`), when no `.` touches a `\`;
 *   3. else `b64.` and the name's UTF-8 in base64url;
 * and a name none of these fits in 64 characters is refused. Back: a type starting with `b64.` is
 * decoded, any other has each `..` read as `\`. Each rule's output cannot be mistaken for another's.
 *
 * Data. Pusher carries `data` as a string, usually JSON. Herald stores what the string holds (an
 * object for `{"total":5}`, the string itself when it is not JSON), so Herald clients get the
 * value; Pusher clients get it back as a string (the JSON, or the string as it was).
 */

import { eventTypeProblem, MAX_EVENT_TYPE_LENGTH } from "@herald/protocol";

const BASE64 = "b64.";

function fits(type: string): boolean {
  return !type.startsWith(BASE64) && eventTypeProblem(type) === undefined;
}

/** The Herald event type of a Pusher event name, or undefined when the name cannot be carried. */
export function heraldEventType(name: string): string | undefined {
  if (name.length === 0) return undefined;
  if (!name.includes("..")) {
    if (fits(name)) return name;
    if (!/\.\\|\\\./.test(name)) {
      const escaped = name.replaceAll("\\", "..");
      if (fits(escaped)) return escaped;
    }
  }
  const encoded = BASE64 + Buffer.from(name, "utf8").toString("base64url");
  return encoded.length <= MAX_EVENT_TYPE_LENGTH ? encoded : undefined;
}

/** The Pusher event name of a Herald event type. */
export function pusherEventName(type: string): string {
  if (type.startsWith(BASE64)) return Buffer.from(type.slice(BASE64.length), "base64url").toString("utf8");
  return type.replaceAll("..", "\\");
}

/** What Herald stores for a Pusher `data` string. */
export function heraldData(data: string): unknown {
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return data;
  }
}

/** The Pusher `data` string of a Herald event's data. */
export function pusherData(data: unknown): string {
  return typeof data === "string" ? data : (JSON.stringify(data) ?? "null");
}
