/** A client connection carried by Server-Sent Events. */

import type { ServerResponse } from "node:http";
import { encodeCursor, type Cursor, type ServerControlFrame } from "@herald/protocol";
import type { PreparedEvent } from "../hub/prepared-event.js";
import { Session } from "../hub/session.js";
import type { HubStats } from "../hub/stats.js";

export class SseSession extends Session {
  /** Last position sent per channel; every event's `id:` is this whole map as a cursor. */
  readonly positions: Cursor;

  constructor(
    id: string,
    remoteAddress: string,
    private readonly response: ServerResponse,
    private readonly sendQueueBytes: number,
    private readonly stats: HubStats,
    resumeFrom: Cursor | undefined,
  ) {
    super(id, "sse", remoteAddress, "herald");
    this.positions = { ...resumeFrom };
  }

  deliver(event: PreparedEvent): void {
    if (this.closed) return;
    if (this.response.writableLength > this.sendQueueBytes) {
      this.stats.slowConsumerDisconnects += 1;
      this.close();
      return;
    }
    const { channel, epoch, offset, type } = event.event;
    this.positions[channel] = { epoch, offset };
    const chunk = `id: ${encodeCursor(this.positions)}\nevent: ${type}\ndata: ${event.text("herald")}\n\n`;
    this.response.write(chunk);
    this.stats.bytesSent.sse += chunk.length;
    this.stats.deliveredBy.sse += 1;
  }

  sendFrame(frame: ServerControlFrame): void {
    if (this.closed) return;
    // Without recovery the client starts at the current position, so that becomes its cursor.
    if (frame.type === "subscribed" && !frame.recovered) this.positions[frame.channel] = { epoch: frame.epoch, offset: frame.offset };
    this.writeRaw(`event: ${frame.type}\ndata: ${JSON.stringify(frame)}\n\n`);
  }

  writeRaw(chunk: string): void {
    if (this.closed) return;
    this.response.write(chunk);
    this.stats.bytesSent.sse += chunk.length;
  }

  get congested(): boolean {
    return this.response.writableLength > this.sendQueueBytes / 2;
  }

  drained(): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed || !this.congested) return setImmediate(resolve);
      const done = (): void => {
        this.response.off("drain", done);
        this.response.off("close", done);
        resolve();
      };
      this.response.on("drain", done);
      this.response.on("close", done);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.response.end();
  }
}
