/**
 * How one worker of `herald serve --workers N` reaches its siblings: through the primary process,
 * which asks every running worker and gathers their answers. Herald takes it as an option and uses
 * it for the figures of /api/status and /metrics; cluster/worker.ts implements it over IPC.
 */

/** What a worker may ask its siblings. */
export type SiblingRequest = { readonly kind: "figures" } | { readonly kind: "metrics" };

export interface SiblingAnswers {
  /** The answers of the workers that answered in time, this one's included, by worker slot. */
  readonly answers: unknown[];
  /** Workers that were asked and did not answer in time. */
  readonly missing: number;
}

export interface WorkerGroup {
  /** Asks every running worker, this one included. */
  survey(request: SiblingRequest): Promise<SiblingAnswers>;
  /** Sets how this worker answers its siblings' surveys; the answer must survive JSON. */
  answer(handler: (request: SiblingRequest) => Promise<unknown>): void;
}
