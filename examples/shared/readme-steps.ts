/**
 * Runs the steps an example's README gives, as written, so that the README cannot drift from what
 * the example does: the ```sh blocks that follow a `<!-- test:steps -->` line, joined in order and
 * run by bash (`set -euo pipefail`) from the repository root, where `npx wscat` is the
 * project's own.
 *
 * The README writes the addresses a user gets from `npm run example:<name>` (127.0.0.1:8080, …);
 * the test started the example elsewhere, so `replace` maps each of them (and anything else
 * instance-bound, like a token or a table name) to the test's value. Every key must occur in the
 * steps, and an address left unmapped fails the run instead of reaching another process.
 */

import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const REPOSITORY_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const STEPS = /^<!-- test:steps -->\n```sh\n([\s\S]*?)^```$/gm;
const ADDRESS = /\b(?:127\.0\.0\.1|localhost):\d+/g;

/** The README's steps with `replace` applied, checked as described above. */
export async function readmeSteps(readme: URL, replace: Record<string, string>): Promise<string> {
  const text = await readFile(readme, "utf8");
  const blocks = [...text.matchAll(STEPS)].map((match) => match[1]!);
  if (blocks.length === 0) throw new Error(`${fileURLToPath(readme)} has no <!-- test:steps --> block`);
  let steps = blocks.join("\n");
  for (const [from, to] of Object.entries(replace)) {
    // Whole words only: the table cas_deposits, not the path /api/cas-deposits or wcas_….
    const pattern = new RegExp(`(?<![\\w])${from.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?![\\w])`, "g");
    if (!pattern.test(steps)) throw new Error(`the README's steps never mention ${from}`);
    steps = steps.replace(pattern, to);
  }
  const allowed = new Set(Object.values(replace).flatMap((value) => value.match(ADDRESS) ?? []));
  const stray = (steps.match(ADDRESS) ?? []).filter((address) => !allowed.has(address));
  if (stray.length > 0) throw new Error(`the README's steps reach ${stray.join(", ")}, which the test did not map to its example`);
  return steps;
}

/**
 * Runs the README's steps and answers what they printed. Fails with that output when a step
 * fails or when they take longer than `timeoutMs`. What they leave running in the background
 * (a `sleep | wscat` listener) is ended with them.
 */
export async function runReadmeSteps(readme: URL, replace: Record<string, string>, timeoutMs = 60_000): Promise<string> {
  const steps = await readmeSteps(readme, replace);
  // Its own process group, so that the group can be ended with everything the steps started.
  // Standard input stays open, as a terminal's does: a foreground wscat then runs until the server
  // closes the connection, as it does for a user, instead of ending at once on end of input.
  const child = spawn("bash", ["-euo", "pipefail", "-c", steps], { cwd: REPOSITORY_ROOT, detached: true, stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const endGroup = () => {
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {
      // Nothing of it is left.
    }
  };
  const timer = setTimeout(endGroup, timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once("exit", (exitCode) => resolve(exitCode)));
  clearTimeout(timer);
  child.stdin.end();
  endGroup();
  await new Promise((resolve) => (child.stdout.readableEnded ? resolve(undefined) : child.stdout.once("close", resolve)));
  if (code !== 0) throw new Error(`the README's steps ${code === null ? `took more than ${timeoutMs} ms` : `failed (exit ${code})`}:\n${output}`);
  return output;
}
