#!/usr/bin/env node
/** The `herald` command: `herald serve [--port N] [--host H] [--config FILE] [--workers N]`, `herald pg …`. */

import cluster from "node:cluster";
import { parseArgs } from "node:util";
import { runPrimary } from "./cluster/primary.js";
import { runWorker } from "./cluster/worker.js";
import { workerCount } from "./cluster/worker-count.js";
import { loadConfig } from "./config/load.js";
import type { HeraldConfig, HeraldConfigInput } from "./config/schema.js";
import { describeSecurityPosture, type SecurityPosture } from "./ops/security-posture.js";
import { cannotStart, postureLines, readyBanner } from "./ops/serve-output.js";
import { isHeraldError } from "./shared/herald-error.js";
import { Herald } from "./herald.js";
import { runPgCommand, strayHint } from "./sources/postgres-cli.js";

const USAGE = `Usage: herald serve [--port N] [--host ADDRESS] [--config FILE] [--workers N|auto] [--check]

Runs the Herald hub. With no config file it serves on port 8080 with the embedded memory engine.
  --port, -p     port to listen on (default 8080; PORT and HERALD_PORT are read too)
  --host         address to bind (default 0.0.0.0)
  --config, -c   a JSON or YAML config file (HERALD_CONFIG is read too)
  --workers, -w  processes sharing the port, acting as one hub; auto: one per core
                 (default 1; HERALD_WORKERS is read too). See docs/operations.md.
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
        workers: { type: "string", short: "w" },
      },
    });
  } catch (error) {
    process.stderr.write(`herald: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const [command = "serve", ...stray] = parsed.positionals;
  if (parsed.values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command !== "serve") {
    process.stderr.write(`herald: unknown command "${command}"${strayHint(command)}\n\n${USAGE}\n`);
    return 2;
  }
  if (stray.length > 0) {
    process.stderr.write(`herald serve: unexpected argument "${stray[0]}"${strayHint(stray[0]!)}\n\n${USAGE}\n`);
    return 2;
  }
  const portText = parsed.values.port;
  if (portText !== undefined && !/^\d+$/.test(portText)) {
    process.stderr.write(`herald: --port must be a number, got "${portText}"\n`);
    return 2;
  }

  const configFile = parsed.values.config ?? process.env.HERALD_CONFIG;
  let workers: number;
  try {
    workers = workerCount(parsed.values.workers ?? process.env.HERALD_WORKERS);
  } catch (error) {
    process.stderr.write(`herald: ${(error as Error).message}\n`);
    return 2;
  }
  const overrides: HeraldConfigInput = {
    ...(portText === undefined ? {} : { port: Number(portText) }),
    ...(parsed.values.host === undefined ? {} : { host: parsed.values.host }),
  };
  if (parsed.values.check) return check(configFile, overrides);
  const err = (text: string): void => void process.stderr.write(text);
  if (cluster.isWorker) return runWorker({ ...(configFile === undefined ? {} : { configFile }), overrides, err });
  if (workers > 1) {
    const config = loadOrExplain(configFile, overrides);
    if (!config) return 1;
    if (config.bridges.length > 0) {
      // Each worker would hold its own upstream connection and publish every message once more.
      err("herald: bridges run in one process: with --workers each worker would publish every upstream message again; use --workers 1\n");
      return 1;
    }
    return runPrimary({ config, workers, out: (text) => void process.stdout.write(text), err });
  }

  let herald: Herald;
  try {
    herald = new Herald({ env: process.env, configFile, config: overrides });
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
    process.stderr.write(cannotStart(error, herald.config.port));
    return 1;
  }

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
  process.stdout.write(readyBanner(herald.config, { port: herald.port, node: herald.node, adminToken: herald.adminToken }));
  return -1;
}

/** The configuration `herald serve` would run with, or undefined after saying why it is not valid. */
function loadOrExplain(configFile: string | undefined, overrides: HeraldConfigInput): HeraldConfig | undefined {
  try {
    return loadConfig({ env: process.env, ...(configFile === undefined ? {} : { file: configFile }), overrides });
  } catch (error) {
    if (!isHeraldError(error, "invalid_config")) throw error;
    process.stderr.write(`herald: ${error.message}\n`);
    return undefined;
  }
}

/** `herald serve --check`: the posture of a configuration, without starting anything. */
function check(configFile: string | undefined, overrides: HeraldConfigInput): number {
  let posture: SecurityPosture;
  try {
    const config = loadConfig({ env: process.env, ...(configFile === undefined ? {} : { file: configFile }), overrides });
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
