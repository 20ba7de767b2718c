import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { RedisServer, redisServerSkip } from "./support/redis-server.js";
import { DATABASE_URL, postgresMissing } from "./support/postgres.js";
import { deadline } from "./support/deadline.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const cli = ["--conditions=herald-source", "--import", "tsx", "packages/server/src/cli.ts"];

function run(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [...cli, ...args], { cwd: root, env: { ...process.env, HERALD_LOG_LEVEL: "warn", ...env } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const exited = once(child, "exit").then(([code, signal]) => (code as number | null) ?? (signal as string));
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout.on("data", () => {
      const match = /Herald ready on (http:\/\/\S+)/.exec(stdout);
      if (match) resolve(match[1]!);
    });
    void exited.then((code) => reject(new Error(`exited with ${code} before ready: ${stderr}`)));
  });
  // Tests that expect a failed start never await `ready`; keep its rejection from going unhandled.
  ready.catch(() => undefined);
  /** The exit code, or a failure naming what the process printed if it has not exited within `ms`. */
  const exitsWithin = async (ms: number): Promise<number | string> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`still running ${ms} ms after start; stdout: ${stdout} stderr: ${stderr}`));
      }, ms);
    });
    try {
      return await Promise.race([exited, late]);
    } finally {
      clearTimeout(timer);
    }
  };
  return { exitsWithin, child, ready, exited, output: () => ({ stdout, stderr }) };
}

describe("herald serve", () => {
  it("serves with no config file, honours PORT, prints the URLs, and shuts down gracefully on SIGTERM", async () => {
    const herald = run(["serve"], { PORT: "0" });
    const base = await herald.ready;
    const { stdout } = herald.output();
    assert.match(stdout, /WebSocket\s+ws:\/\/localhost:\d+\/ws/);
    assert.match(stdout, /Publish .*\[loopback only/);
    // An open hub says so, and warns since it listens on every interface.
    assert.match(stdout, /Read +anyone who reaches the port may read every channel/);
    assert.match(stdout, /WARNING +listening on 0\.0\.0\.0, beyond loopback, with channels anyone can read/);
    const port = new URL(base).port;
    const status = (await (await fetch(`http://127.0.0.1:${port}/api/status`)).json()) as { engine: { name: string } };
    assert.equal(status.engine.name, "memory");

    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    await once(socket, "open");
    const closed = once(socket, "close");
    herald.child.kill("SIGTERM");
    const [code, reason] = (await closed) as [number, Buffer];
    assert.equal(code, 1001);
    assert.match(reason.toString(), /shutting down/);
    assert.equal(await herald.exited, 0);
  });

  it("the ready banner states the publish posture in force: API keys, HMAC keys, or both", async () => {
    const apiKey = "banner-api-key-0123456789";
    const hmacKey = "billing=banner-hmac-secret-0123456789";
    const postures: Array<{ env: Record<string, string>; line: RegExp }> = [
      { env: { HERALD_API_KEYS: apiKey }, line: /Publish .*\[1 API key\(s\)\]/ },
      { env: { HERALD_HMAC_KEYS: hmacKey }, line: /Publish .*\[HMAC-signed requests only\]/ },
      { env: { HERALD_API_KEYS: apiKey, HERALD_HMAC_KEYS: hmacKey }, line: /Publish .*\[1 API key\(s\) or HMAC-signed requests\]/ },
    ];
    for (const { env, line } of postures) {
      const herald = run(["serve"], { PORT: "0", ...env });
      await herald.ready;
      const { stdout } = herald.output();
      herald.child.kill("SIGTERM");
      assert.equal(await herald.exited, 0);
      assert.match(stdout, line);
      assert.doesNotMatch(stdout, /Publish .*loopback/);
    }
  });

  it("with no admin token configured, the banner's dashboard URL carries the generated one: it opens the admin surface, loopback alone does not", async () => {
    const herald = run(["serve"], { PORT: "0" });
    try {
      await herald.ready;
      const banner = /Dashboard\s+(http:\/\/localhost:\d+\/dashboard\?token=([A-Za-z0-9_-]+))/.exec(herald.output().stdout);
      assert.ok(banner, `a dashboard URL with a token in: ${herald.output().stdout}`);
      const url = new URL(banner[1]!);
      url.hostname = "127.0.0.1";
      const base = url.origin;
      assert.equal((await fetch(`${base}/api/admin/channels`)).status, 401, "loopback without the token");
      const unlock = await fetch(url, { redirect: "manual" });
      assert.equal(unlock.status, 303);
      const cookie = (unlock.headers.get("set-cookie") ?? "").split(";")[0]!;
      assert.equal((await fetch(`${base}/api/admin/channels`, { headers: { cookie } })).status, 200);
      assert.equal((await fetch(`${base}/api/admin/channels`, { headers: { authorization: `Bearer ${banner[2]}` } })).status, 200);
    } finally {
      herald.child.kill("SIGTERM");
      assert.equal(await herald.exited, 0);
    }
  });

  it("with HERALD_ADMIN_TOKEN set, the banner shows a placeholder, never the token", async () => {
    const token = "banner-admin-token-0123456789";
    const herald = run(["serve"], { PORT: "0", HERALD_ADMIN_TOKEN: token });
    await herald.ready;
    herald.child.kill("SIGTERM");
    assert.equal(await herald.exited, 0);
    const { stdout } = herald.output();
    assert.match(stdout, /Dashboard\s+http:\/\/localhost:\d+\/dashboard\?token=<admin token>/);
    assert.doesNotMatch(stdout, new RegExp(token));
  });

  it("refuses a bad setting with one line that names it, and exit code 1", async () => {
    const herald = run(["serve"], { PORT: "0", HERALD_MAX_PAYLOAD: "huge" });
    assert.equal(await herald.exited, 1);
    const { stderr } = herald.output();
    assert.equal(stderr.trim().split("\n").length, 1);
    assert.match(stderr, /maxPayload \(from HERALD_MAX_PAYLOAD\): "huge" is not a size/);
  });

  it("refuses an argument it does not know, such as a usage line's [--config FILE] pasted as written, with exit code 2", async () => {
    const herald = run(["serve", "--check", "[--config", "FILE]"], {});
    assert.equal(await herald.exitsWithin(30_000), 2);
    assert.match(herald.output().stderr, /^herald serve: unexpected argument "\[--config" \(brackets in a usage line mark optional parts/);
  });

  it("--port wins over PORT", async () => {
    const herald = run(["serve", "--port", "0"], { PORT: "1" });
    const base = await herald.ready;
    assert.notEqual(new URL(base).port, "1");
    // SIGTERM rather than SIGINT: under the test's TypeScript loader SIGINT is also handled by the loader.
    herald.child.kill("SIGTERM");
    assert.equal(await herald.exited, 0);
  });
});

describe("herald serve --check", () => {
  async function check(args: string[], env: Record<string, string> = {}) {
    const herald = run(["serve", "--check", ...args], env);
    const code = await herald.exitsWithin(30_000);
    return { code, ...herald.output() };
  }

  it("prints who may read, publish and administer, and exits 3 when an open hub listens beyond loopback", async () => {
    const open = await check([]);
    assert.equal(open.code, 3, open.stderr);
    assert.match(open.stdout, /Read +anyone who reaches the port may read every channel \(no auth configured\)/);
    assert.match(open.stdout, /WARNING +listening on 0\.0\.0\.0/);
    assert.match(open.stdout, /Publish +loopback only/);
    assert.match(open.stdout, /Admin +dashboard and admin API/);
    const local = await check(["--host", "127.0.0.1"]);
    assert.equal(local.code, 0, local.stdout);
    assert.match(local.stdout, /No warnings\./);
  });

  it("names each namespace's rule with auth configured, and says when no namespace is personal", async () => {
    const signedIn = await check([], { HERALD_JWT_SECRET: "a-jwt-secret-for-the-check-0123456789" });
    assert.equal(signedIn.code, 0, signedIn.stdout + signedIn.stderr);
    assert.match(signedIn.stdout, /Read +connections signed in with a JWT may read every channel/);
    assert.match(signedIn.stdout, /no namespace is personal: a signed-in user may read user:42/);
  });

  it("exits 1 with one line when the configuration is not valid", async () => {
    const bad = await check([], { HERALD_PING_INTERVAL: "soon" });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid configuration/);
  });
});

describe("herald serve on the redis engine", { skip: redisServerSkip() }, () => {
  it("exits 1 when its port is taken, instead of hanging on its open Redis connections", async () => {
    const redis = await RedisServer.start();
    const taken = createServer();
    taken.listen(0, "127.0.0.1");
    await once(taken, "listening");
    try {
      const port = (taken.address() as { port: number }).port;
      const herald = run(["serve", "--port", String(port), "--host", "127.0.0.1"], {
        HERALD_ENGINE: "redis",
        HERALD_REDIS_URL: redis.url,
        HERALD_REDIS_PREFIX: `cli-eaddrinuse-${process.pid}:`,
      });
      assert.equal(await herald.exitsWithin(15_000), 1);
      assert.match(herald.output().stderr, /cannot start: .*EADDRINUSE.*port \d+ is in use/);
    } finally {
      taken.close();
      await redis.close();
    }
  });
});

describe("the herald command npm links", () => {
  // What `npx herald` runs in a clone right after `npm ci`, before any build.
  const bin = join(root, "node_modules", ".bin", "herald");

  function herald(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(bin, args, { cwd: root, env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    return once(child, "exit").then(([code]) => ({ code: code as number | null, stdout, stderr }));
  }

  it("exists after npm ci and answers --help", async () => {
    assert.ok(existsSync(bin), `${bin} is missing: npm links the bin of packages/server/package.json at install time, so it must point at a file in the repository`);
    const help = await herald(["--help"]);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /Usage: herald serve/);
  });

  /**
   * Starts `command` in a process group of its own, as a terminal's foreground job, sends the group
   * SIGINT (Ctrl-C: the signal reaches every process of it) once the ready banner is out, and
   * answers once every process of it has let go of the output: the exit code of `command`'s own
   * process and what the whole group printed.
   */
  async function ctrlC(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(command, args, { cwd: root, detached: true, env: { ...process.env, HERALD_LOG_LEVEL: "warn" } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const closed = once(child, "close");
    try {
      await deadline(
        new Promise<void>((resolve) => child.stdout.on("data", () => /Herald ready on /.test(stdout) && resolve())),
        () => `the ready banner (stdout: ${stdout} stderr: ${stderr})`,
        60_000,
      );
      process.kill(-child.pid!, "SIGINT");
      const [code] = (await deadline(closed, () => `every process to end after SIGINT (stdout: ${stdout} stderr: ${stderr})`, 30_000)) as [number | null];
      return { code, stdout, stderr };
    } finally {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // The group is gone, as it should be.
      }
    }
  }

  it("Ctrl-C drains `herald serve --workers 2` once: every worker drains, and it exits 0, also when run through npx", async () => {
    const direct = await ctrlC(bin, ["serve", "--workers", "2", "--port", "0", "--host", "127.0.0.1"]);
    assert.equal(direct.code, 0, direct.stdout + direct.stderr);
    assert.match(direct.stdout, /SIGINT received, draining 2 workers/);
    // Through npx, as docs/operations.md starts it: npm forwards the signal to the command too.
    // npm's own exit code after a Ctrl-C says nothing of Herald's; what Herald printed does.
    const viaNpx = await ctrlC("npx", ["herald", "serve", "--workers", "2", "--port", "0", "--host", "127.0.0.1"]);
    assert.match(viaNpx.stdout, /SIGINT received, draining 2 workers/);
    assert.equal(viaNpx.stderr, "", "one Ctrl-C is one signal, not a second one that skips the drain (`SIGINT again, exiting now`)");
  });

  it("runs `herald pg status` as docs/integrations.md writes it, against PostgreSQL", async (t) => {
    const missing = await postgresMissing();
    if (missing) return t.skip(missing);
    const status = await herald(["pg", "status"], { DATABASE_URL });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout + status.stderr, /outbox/i);
  });
});
