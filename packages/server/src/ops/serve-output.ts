/**
 * What `herald serve` prints: the ready banner with every URL and the security posture, and the
 * one line that says why a node could not start. One process prints them, or with `--workers` the
 * primary prints the banner once for all workers, and each worker its own start failure.
 */

import type { HeraldConfig } from "../config/schema.js";
import { isHeraldError } from "../shared/herald-error.js";
import { describeSecurityPosture, type SecurityPosture } from "./security-posture.js";

export interface ServingAs {
  readonly port: number;
  readonly adminToken: string;
  /** One process: its node name. */
  readonly node?: string;
  /** With `--workers`: each worker's node name and process id, by slot. */
  readonly workers?: ReadonlyArray<{ readonly node: string; readonly pid: number | undefined }>;
}

export function readyBanner(config: HeraldConfig, serving: ServingAs): string {
  const shown = config.host === "0.0.0.0" || config.host === "::" ? "localhost" : config.host;
  const base = `http://${shown}:${serving.port}`;
  const posture = describeSecurityPosture(config);
  // A configured admin token stays out of the output; a generated one is shown here only, as it exists
  // nowhere else (and changes with every start).
  const dashboardToken = config.security.adminToken === undefined
    ? `${serving.adminToken}  [admin token generated for this run; set HERALD_ADMIN_TOKEN to keep one]`
    : "<admin token>";
  const workers = serving.workers;
  const engine = workers && config.engine.type === "memory" ? "memory, held by the primary process" : config.engine.type;
  const who = workers ? `${workers.length} workers` : `node ${serving.node}`;
  return [
    `Herald ready on ${base} (${who}, engine ${engine})`,
    ...(workers ? [`  Workers    ${workers.map((worker) => `${worker.node} (pid ${worker.pid})`).join(", ")}`] : []),
    `  WebSocket  ws://${shown}:${serving.port}/ws`,
    `  SSE        ${base}/sse?channel=<name>`,
    `  Polling    ${base}/api/updates?channel=<name>`,
    `  Publish    POST ${base}/api/publish  [${posture.publish}]`,
    ...postureLines(posture).map((line) => `  ${line}`),
    ...config.pusher.apps.map((app) => `  Pusher     ws://${shown}:${serving.port}/app/${app.key}   API ${base}/apps/${app.id}/events  (app ${app.id})`),
    `  Status     ${base}/api/status   Metrics ${base}/metrics   Ready ${base}/readyz`,
    `  Dashboard  ${base}/dashboard?token=${dashboardToken}`,
    "",
  ].join("\n");
}

/** The read posture and warnings, as banner lines. */
export function postureLines(posture: SecurityPosture): string[] {
  const [first = "", ...rest] = posture.read;
  return [`Read       ${first}`, ...rest.map((line) => `           ${line}`), ...posture.warnings.map((warning) => `WARNING    ${warning}`)];
}

/** `herald: cannot start: …`, with a hint when the port is taken. */
export function cannotStart(error: unknown, port: number): string {
  const code = (error as { code?: string }).code;
  const hint = code === "EADDRINUSE" ? ` port ${port} is in use; pick another with --port or PORT` : "";
  // The operator reads the details a client would not be shown (which Redis, what it answered).
  const message = isHeraldError(error) && error.detail ? error.detail : (error as Error).message;
  return `herald: cannot start: ${message}${hint ? ";" + hint : ""}\n`;
}
