/**
 * How WebSocket frames are encoded. JSON text frames are the default (what `wscat` speaks);
 * MessagePack is opt-in: the same frames, each one MessagePack map in a binary WebSocket frame,
 * both ways. A client asks for it with `?format=msgpack` in the URL or by offering the
 * `herald.msgpack` subprotocol.
 */

export type WireFormat = "json" | "msgpack";

export const WIRE_FORMATS: readonly WireFormat[] = ["json", "msgpack"];

/** The query parameter that names the format. */
export const FORMAT_PARAM = "format";

/** The WebSocket subprotocol of each format (`Sec-WebSocket-Protocol`). */
export const FORMAT_SUBPROTOCOLS: Readonly<Record<WireFormat, string>> = { json: "herald.json", msgpack: "herald.msgpack" };

/**
 * The format a connection asked for, from its `format` query value (null: none) and the
 * subprotocols it offers; a string says what is wrong with the request.
 */
export function requestedWireFormat(query: string | null, offered: ReadonlySet<string>): WireFormat | { problem: string } {
  const fromQuery = query === null ? undefined : WIRE_FORMATS.find((format) => format === query);
  if (query !== null && fromQuery === undefined) return { problem: `format must be "json" or "msgpack", not ${JSON.stringify(query.slice(0, 32))}` };
  // The first of Herald's subprotocols in the client's order of preference.
  let fromProtocol: WireFormat | undefined;
  for (const protocol of offered) {
    fromProtocol = WIRE_FORMATS.find((format) => FORMAT_SUBPROTOCOLS[format] === protocol);
    if (fromProtocol !== undefined) break;
  }
  if (fromQuery !== undefined && fromProtocol !== undefined && fromQuery !== fromProtocol) {
    return { problem: `format=${fromQuery} in the URL contradicts the ${FORMAT_SUBPROTOCOLS[fromProtocol]} subprotocol; ask for one format` };
  }
  return fromQuery ?? fromProtocol ?? "json";
}
