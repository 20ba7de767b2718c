/** An event as the admin feed (`GET /api/admin/events`) sends it: the wire frame of protocol v1. */
export interface FeedEvent {
  readonly type: string;
  readonly channel: string;
  readonly data: unknown;
  readonly offset: number;
  readonly epoch: string;
  readonly timestamp: string;
  /** The event's trace id, while the node traces (OpenTelemetry). */
  readonly traceId?: string;
}

/** A received event with what the list needs precomputed once (not on every render). */
export interface ShownEvent {
  /** Increasing number, the React key and the detail view's selection. */
  readonly seq: number;
  readonly event: FeedEvent;
  /** The data as one line of JSON, for the preview and the text search. */
  readonly dataText: string;
}
