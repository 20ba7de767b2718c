/**
 * A whole server-to-client WebSocket frame (header + payload) as one Buffer: text for JSON, binary
 * for MessagePack.
 *
 * Why not ws.send: ws frames each message per socket (a fresh header buffer, then cork, two
 * writes, uncork). A fan-out sends the same event to thousands of sockets, so Herald builds the
 * frame once per event and writes that one Buffer to every socket: one write, no per-subscriber
 * allocation. Server frames are never masked (RFC 6455 §5.1), so the bytes are identical for every
 * connection. Only valid where ws has no extension active on the connection (permessage-deflate
 * is off in Herald's WebSocketServer), since such a frame bypasses ws's Sender.
 * In hub/ because PreparedEvent builds the frame once per event; the WebSocket transport writes it.
 */

const FIN_TEXT = 0x81; // FIN bit + opcode 0x1 (text), RFC 6455 §5.2
const FIN_BINARY = 0x82; // FIN bit + opcode 0x2 (binary): MessagePack connections

export function encodeTextFrame(payload: Buffer): Buffer {
  return encodeFrame(FIN_TEXT, payload);
}

export function encodeBinaryFrame(payload: Buffer): Buffer {
  return encodeFrame(FIN_BINARY, payload);
}

function encodeFrame(first: number, payload: Buffer): Buffer {
  const length = payload.length;
  // Payload length: 7 bits, or 126 + 16-bit length, or 127 + 64-bit length (RFC 6455 §5.2).
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = first;
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  payload.copy(frame, headerLength);
  return frame;
}

/** The payload length of a frame built here: what the receiving client counts as the message's size. */
export function framePayloadLength(frame: Buffer): number {
  const marker = frame[1]! & 0x7f;
  return frame.length - (marker < 126 ? 2 : marker === 126 ? 4 : 10);
}
