/**
 * What the HTTP routes and fallback transports share: built once by createHerald.
 * In transports/ because SSE and polling take it, and http/ sits above them.
 */

import type { Logger } from "pino";
import type { HeraldConfig } from "../config/schema.js";
import type { Engine } from "../engine/engine.js";
import type { Hub } from "../hub/hub.js";
import type { ClusterActions } from "../hub/cluster-actions.js";
import type { HubStats } from "../hub/stats.js";
import type { ApiKeys } from "../auth/api-keys.js";
import type { Metrics } from "../ops/metrics.js";
import type { WorkerFigures } from "../ops/worker-figures.js";
import type { ClusterFigures } from "../ops/cluster-figures.js";
import type { SecurityContext } from "../auth/security-context.js";
import type { Admission } from "./admission.js";

/** Which of the sinks' dead letters to retry: one sink's, one webhook endpoint's, one delivery; all when empty. */
export interface DeadLetterFilter {
  readonly sink?: "email" | "webhooks" | "pusher";
  readonly url?: string;
  readonly id?: string;
}

export interface HttpContext {
  readonly config: HeraldConfig;
  readonly hub: Hub;
  /** The server API's actions, carried out on every node. */
  readonly actions: ClusterActions;
  readonly engine: Engine;
  readonly stats: HubStats;
  readonly logger: Logger;
  readonly apiKeys: ApiKeys;
  readonly metrics: Metrics;
  readonly node: string;
  readonly version: string;
  /** Limits, origin policy, admin guard, signed publishing. */
  readonly security: SecurityContext;
  /** The one way in: every transport and read admits its clients here. */
  readonly admission: Admission;
  /** False once shutdown began: new long-lived requests are refused. */
  accepting(): boolean;
  /** Sources' and sinks' states for /api/status. */
  integrations?(): Promise<Record<string, unknown>>;
  /** Queues the sinks' dead letters again (the dashboard's retry); resolves to how many. */
  retryDeadLetters?(filter: DeadLetterFilter): Promise<number>;
  /** Set in a worker of `herald serve --workers`: every worker's figures, for /api/status and /metrics. */
  readonly workers?: WorkerFigures;
  /** Set on the Redis engine: every node's figures, for /api/status. */
  readonly cluster?: ClusterFigures;
}
