/** A Server-Sent Events reader for tests, over fetch: yields {event, id, data} records. */

export interface SseRecord {
  event: string;
  id: string | undefined;
  data: Record<string, unknown>;
}

export class SseReader {
  readonly records: SseRecord[] = [];
  private buffer = "";
  private waiters: Array<() => void> = [];
  private ended = false;
  private constructor(
    readonly response: Response,
    private readonly abort: AbortController,
  ) {
    void this.pump();
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
    const abort = new AbortController();
    const response = await fetch(url, { headers, signal: abort.signal });
    return new SseReader(response, abort);
  }

  /** Opens a stream, or answers the HTTP refusal's status and body when the server did not open one. */
  static async openOrRefusal(url: string, headers: Record<string, string> = {}): Promise<SseReader | { status: number; body: any }> {
    const abort = new AbortController();
    const response = await fetch(url, { headers, signal: abort.signal });
    if (response.status !== 200) return { status: response.status, body: await response.json() };
    return new SseReader(response, abort);
  }

  /** Waits until `count` records of this event type arrived (counting from the start). */
  async waitFor(event: string, count = 1, timeoutMs = 5_000): Promise<SseRecord[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.records.filter((record) => record.event === event);
      if (found.length >= count) return found;
      if (this.ended) throw new Error(`stream ended with ${found.length}/${count} "${event}" records`);
      if (Date.now() > deadline) throw new Error(`only ${found.length}/${count} "${event}" records within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.abort.abort();
  }

  private async pump(): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of this.response.body as unknown as AsyncIterable<Uint8Array>) {
        this.buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = this.buffer.indexOf("\n\n")) !== -1) {
          const block = this.buffer.slice(0, end);
          this.buffer = this.buffer.slice(end + 2);
          const record: Partial<SseRecord> & { dataText?: string } = {};
          for (const line of block.split("\n")) {
            const colon = line.indexOf(":");
            if (colon <= 0) continue;
            const field = line.slice(0, colon);
            const value = line.slice(colon + 1).replace(/^ /, "");
            if (field === "event") record.event = value;
            else if (field === "id") record.id = value;
            else if (field === "data") record.dataText = (record.dataText ? record.dataText + "\n" : "") + value;
          }
          if (record.dataText !== undefined) {
            this.records.push({ event: record.event ?? "message", id: record.id, data: JSON.parse(record.dataText) });
          }
        }
        this.wake();
      }
    } catch {
      // Aborted by close().
    }
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
