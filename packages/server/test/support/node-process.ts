/** Test support: a Herald node as a child process, started through the CLI as users start it. */

import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { DIRECT_ENV_VARIABLES, ENV_VARIABLES } from "../../src/config/env.js";

const root = fileURLToPath(new URL("../../../../", import.meta.url));

export interface NodeProcess {
  readonly name: string;
  readonly url: string;
  readonly wsUrl: string;
  readonly child: ChildProcess;
  /** Everything the node wrote, for failure messages. */
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * The test process's environment without the variables Herald reads: under CI, REDIS_URL and
 * DATABASE_URL are set for the tests themselves, and a node would take them over its --config
 * file (an environment variable wins), joining the shared Redis instead of the test's own.
 */
function environmentWithoutHeraldSettings(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const { name } of [...ENV_VARIABLES, ...DIRECT_ENV_VARIABLES]) delete env[name];
  return env;
}

/** Starts `herald serve --port 0 [args]` with only `env` configuring it, and resolves once it printed the port it listens on. */
export async function startNodeProcess(name: string, env: Record<string, string>, timeoutMs = 30_000, args: string[] = []): Promise<NodeProcess> {
  const child = spawn(
    process.execPath,
    ["--conditions=herald-source", "--import", "tsx", "packages/server/src/cli.ts", "serve", "--port", "0", "--host", "127.0.0.1", ...args],
    { cwd: root, env: { ...environmentWithoutHeraldSettings(), HERALD_NODE: name, HERALD_LOG_LEVEL: "warn", ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let text = "";
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node ${name} did not start within ${timeoutMs} ms:\n${text}`)), timeoutMs);
    const read = (chunk: Buffer): void => {
      text += chunk.toString();
      const match = /Herald ready on http:\/\/[^:]+:(\d+)/.exec(text);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout!.on("data", read);
    child.stderr!.on("data", read);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`node ${name} exited with ${code} before it was ready:\n${text}`));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    name,
    url,
    wsUrl: url.replace("http", "ws"),
    child,
    output: () => text,
    async kill(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
