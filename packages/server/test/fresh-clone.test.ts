/**
 * What a new user does first, the way CI checks the repository out: `git clone`, `npm ci`, then
 * `npx herald --help` and every `npx herald pg …` command the README, docs/*.md and the example
 * READMEs write, run as written against PostgreSQL. No build step in between: the `herald`
 * command must exist and work right after `npm ci`.
 *
 * The clone is of the committed HEAD (as CI's checkout is), into a temporary directory; the pg
 * commands run against a database of their own, created and dropped here, holding the tables the
 * docs name (those of the bridge-status example), so `cas_deposits` and `herald_outbox` of
 * DATABASE_URL's database are never touched.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { createTables, tableNames } from "../../../examples/bridge-status/src/database.js";
import { DATABASE_URL, postgresMissing, uniqueName } from "./support/postgres.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));

/** Runs `command` with bash in `cwd`; answers its exit code and everything it printed. */
async function sh(command: string, cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; output: string }> {
  const child = spawn("bash", ["-c", command], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, output };
}

/**
 * Every `npx herald pg …` (and `npx herald --help`) command the documentation writes, in document
 * order: the lines of ```sh blocks (with their `\` continuations) and the inline `code` spans.
 */
function documentedCommands(): Array<{ where: string; command: string }> {
  const files = [
    "README.md",
    ...readdirSync(join(root, "docs")).filter((name) => name.endsWith(".md")).sort().map((name) => `docs/${name}`),
    ...readdirSync(join(root, "examples"), { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && existsSync(join(root, "examples", entry.name, "README.md")))
      .map((entry) => `examples/${entry.name}/README.md`)
      .sort(),
  ];
  const commands: Array<{ where: string; command: string }> = [];
  const wanted = /^npx herald (?:pg\b|--help$)/;
  for (const file of files) {
    const text = readFileSync(join(root, file), "utf8");
    const found: Array<{ at: number; command: string }> = [];
    for (const block of text.matchAll(/^```sh\n([\s\S]*?)^```$/gm)) {
      const lines = block[1]!.replace(/\\\n/g, " ").split("\n");
      for (const line of lines) if (wanted.test(line.trim())) found.push({ at: block.index!, command: line.trim() });
    }
    for (const span of text.matchAll(/(?<!`)`(npx herald [^`\n]+)`(?!`)/g)) {
      if (wanted.test(span[1]!) && !span[1]!.includes("…")) found.push({ at: span.index!, command: span[1]! });
    }
    for (const { command } of found.sort((a, b) => a.at - b.at)) commands.push({ where: file, command });
  }
  return commands;
}

describe("a fresh clone, as CI checks it out", { skip: !existsSync(join(root, ".git")) && "not a git checkout" }, () => {
  let clone = "";
  let database = "";
  let adminUrl = "";
  let pgSkip: string | undefined;

  before(async () => {
    clone = await mkdtemp(join(tmpdir(), "herald-clone-"));
    pgSkip = await postgresMissing();
    if (pgSkip === undefined) {
      const url = new URL(DATABASE_URL);
      url.pathname = "/postgres";
      adminUrl = url.toString();
      database = uniqueName("herald_clone");
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${database}`).finally(() => admin.end());
    }
  });

  after(async () => {
    await rm(clone, { recursive: true, force: true });
    if (database !== "") {
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).finally(() => admin.end());
    }
  });

  it("git clone && npm ci installs without an engine or install-script warning, and npx herald --help answers without a build", { timeout: 300_000 }, async () => {
    const cloned = await sh(`git clone --quiet --no-hardlinks ${JSON.stringify(root)} ${JSON.stringify(clone)}`, tmpdir());
    assert.equal(cloned.code, 0, cloned.output);
    const installed = await sh("npm ci --prefer-offline --no-audit --no-fund", clone);
    assert.equal(installed.code, 0, installed.output);
    assert.doesNotMatch(installed.output, /EBADENGINE/, installed.output);
    // npm 11 lists install scripts that package.json's allowScripts does not name (npm 12 skips them).
    assert.doesNotMatch(installed.output, /install scripts not yet covered/, installed.output);
    assert.ok(!existsSync(join(clone, "packages/server/dist")), "nothing was built");
    // Without the link, `npx herald` would look for a package of that name on the registry.
    assert.ok(existsSync(join(clone, "node_modules/.bin/herald")), "npm ci linked the herald command");
    const help = await sh("npx herald --help", clone);
    assert.equal(help.code, 0, help.output);
    assert.match(help.output, /^Usage: herald serve/m);
  });

  it("runs every `npx herald pg` command the README, docs and example READMEs write, as written, against PostgreSQL", { timeout: 120_000 }, async (t) => {
    if (pgSkip !== undefined) return t.skip(pgSkip);
    assert.ok(existsSync(join(clone, "node_modules/.bin/herald")), "the clone above was installed");
    const url = new URL(DATABASE_URL);
    url.pathname = `/${database}`;
    const pool = new pg.Pool({ connectionString: url.toString() });
    try {
      await createTables(pool, tableNames(""));
      const commands = documentedCommands();
      assert.ok(commands.some(({ command }) => command.startsWith("npx herald pg install")), "the docs write a pg install");
      // The database as the docs have the user set it; nothing of this process's Herald settings.
      const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: url.toString() };
      delete env.HERALD_DATABASE_URL;
      delete env.HERALD_CONFIG;
      for (const { where, command } of commands) {
        const ran = await sh(command, clone, env);
        assert.equal(ran.code, 0, `${where}: \`${command}\` exited ${ran.code}:\n${ran.output}`);
      }
      // What the last of them leave, as a user would check it: the example README's three triggers.
      const { rows } = await pool.query<{ table: string }>("SELECT DISTINCT tgrelid::regclass::text AS table FROM pg_trigger WHERE tgname LIKE 'herald_%' ORDER BY 1");
      assert.deepEqual(rows.map((row) => row.table), ["cas_deposits", "polygon_transactions", "wcas_return_intentions"]);
    } finally {
      await pool.end();
    }
  });
});
