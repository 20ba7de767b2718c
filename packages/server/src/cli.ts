#!/usr/bin/env node
/** The `herald` command: `herald serve [--port N] [--host H] [--config FILE]`, `herald pg …`. */

import { parseArgs } from "node:util";
import { loadConfig } from "./config/load.js";
import { describeSecurityPosture, type SecurityPosture } from "./ops/security-posture.js";
import { isHeraldError } from "./shared/herald-error.js";
import { Herald } from "./herald.js";
import { runPgCommand } from "./sources/postgres-cli.js";

const USAGE = `Usage: herald serve [--port N] [--host ADDRESS] [--config FILE] [--check]

Runs the Herald hub. With no config file it serves on port 8080 with the embedded memory engine.
  --port, -p     port to listen on (default 8080; PORT and HERALD_PORT are read too)
  --host         address to bind (default 0.0.0.0)
  --config, -c   a JSON or YAML config file (HERALD_CONFIG is read too)
  --check        print who may read, publish and administer with this configuration, and exit:
                 0 when it has nothing to warn about, 3 when it has, 1 when it is not valid
  --help, -h     this text

Every setting can also come from a HERALD_* environment variable: see docs/configuration.md.
Postgres triggers: herald pg install|uninstall|status (herald pg --help).`;

async function main(argv: string[]): Promise<number> {
  if (argv[0] === "pg") return runPgCommand(argv.slice(1), (text) => process.stdout.write(text), (text) => process.stderr.write(text));
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        port: { type: "string", short: "p" },
        host: { type: "string" },
        config: { type: "string", short: "c" },
        help: { type: "boolean", short: "h" },
        check: { type: "boolean" },
      },
    });
  } catch (error) {
    process.stderr.write(`herald: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const [command = "serve"] = parsed.positionals;
  if (parsed.values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command !== "serve") {
    process.stderr.write(`herald: unknown command "${command}"\n\n${USAGE}\n`);
    return 2;
  }
  const portText = parsed.values.port;
  if (portText !== undefined && !/^\d+$/.test(portText)) {
    process.stderr.write(`herald: --port must be a number, got "${portText}"\n`);
    return 2;
  }

  const configFile = parsed.values.config ?? process.env.HERALD_CONFIG;
  if (parsed.values.check) return check(configFile, portText, parsed.values.host);

  let herald: Herald;
  try {
    herald = new Herald({
      env: process.env,
      configFile,
      config: {
        ...(portText === undefined ? {} : { port: Number(portText) }),
        ...(parsed.values.host === undefined ? {} : { host: parsed.values.host }),
      },
    });
  } catch (error) {
    if (isHeraldError(error, "invalid_config")) {
      process.stderr.write(`herald: ${error.message}\n`);
      return 1;
    }
    throw error;
  }

  try {
    await herald.listen();
  } catch (error) {
    const code = (error as { code?: string }).code;
    const hint = code === "EADDRINUSE" ? ` port ${herald.config.port} is in use; pick another with --port or PORT` : "";
    // The operator reads the details a client would not be shown (which Redis, what it answered).
    const message = isHeraldError(error) && error.detail ? error.detail : (error as Error).message;
    process.stderr.write(`herald: cannot start: ${message}${hint ? ";" + hint : ""}\n`);
    return 1;
  }

  const shown = herald.config.host === "0.0.0.0" || herald.config.host === "::" ? "localhost" : herald.config.host;
  const base = `http://${shown}:${herald.port}`;
  const posture = describeSecurityPosture(herald.config);
  // A configured admin token stays out of the output; a generated one is shown here only, as it exists
  // nowhere else (and changes with every start).
  const dashboardToken = herald.config.security.adminToken === undefined
    ? `${herald.adminToken}  [admin token generated for this run; set HERALD_ADMIN_TOKEN to keep one]`
    : "<admin token>";

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      process.stderr.write(`herald: ${signal} again, exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    process.stdout.write(`herald: ${signal} received, shutting down gracefully\n`);
    herald.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`herald: shutdown failed: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  // Printed after the handlers exist: whoever waits for this line may signal at once.
  process.stdout.write(
    [
      `Herald ready on ${base} (node ${herald.node}, engine ${herald.config.engine.type})`,
      `  WebSocket  ws://${shown}:${herald.port}/ws`,
      `  SSE        ${base}/sse?channel=<name>`,
      `  Polling    ${base}/api/updates?channel=<name>`,
      `  Publish    POST ${base}/api/publish  [${posture.publish}]`,
      ...postureLines(posture).map((line) => `  ${line}`),
      ...herald.config.pusher.apps.map((app) => `  Pusher     ws://${shown}:${herald.port}/app/${app.key}   API ${base}/apps/${app.id}/events  (app ${app.id})`),
      `  Status     ${base}/api/status   Metrics ${base}/metrics   Ready ${base}/readyz`,
      `  Dashboard  ${base}/dashboard?token=${dashboardToken}`,
      "",
    ].join("\n"),
  );
  return -1;
}

/** The read posture and warnings, as banner lines. */
function postureLines(posture: SecurityPosture): string[] {
  const [first = "", ...rest] = posture.read;
  return [`Read       ${first}`, ...rest.map((line) => `           ${line}`), ...posture.warnings.map((warning) => `WARNING    ${warning}`)];
}

/** `herald serve --check`: the posture of a configuration, without starting anything. */
function check(configFile: string | undefined, portText: string | undefined, host: string | undefined): number {
  let posture: SecurityPosture;
  try {
    const config = loadConfig({
      env: process.env,
      ...(configFile === undefined ? {} : { file: configFile }),
      overrides: { ...(portText === undefined ? {} : { port: Number(portText) }), ...(host === undefined ? {} : { host }) },
    });
    posture = describeSecurityPosture(config);
  } catch (error) {
    process.stderr.write(`herald: ${(error as Error).message}\n`);
    return 1;
  }
  process.stdout.write(
    [
      `Publish    ${posture.publish}`,
      ...postureLines(posture),
      `Admin      ${posture.admin}`,
      `Origins    ${posture.origins}`,
      posture.warnings.length === 0 ? "No warnings." : `${posture.warnings.length} warning(s).`,
      "",
    ].join("\n"),
  );
  return posture.warnings.length === 0 ? 0 : 3;
}

/**
 * Once main() has answered, nothing should keep the process alive; if something still does (a
 * handle a failed start left open), exit anyway: a supervisor waits for a failed node to die.
 * The timer is unref'd, so it only fires when the process would otherwise hang.
 */
function exitSoon(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 5_000).unref();
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) exitSoon(code);
  },
  (error: unknown) => {
    process.stderr.write(`herald: ${(error as Error).stack ?? String(error)}\n`);
    exitSoon(1);
  },
);
