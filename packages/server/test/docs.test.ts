import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "@herald/server";
import { DIRECT_ENV_VARIABLES, ENV_VARIABLES } from "../src/config/env.js";

const doc = readFileSync(new URL("../../../docs/configuration.md", import.meta.url), "utf8");
const SOURCE = fileURLToPath(new URL("../src", import.meta.url));

/** Every `process.env.X` and `process.env["X"]` in the server's source, by variable, with the files reading it. */
function processEnvReads(): { byName: Map<string, string[]>; dynamic: string[] } {
  const byName = new Map<string, string[]>();
  const dynamic: string[] = [];
  const visit = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (entry.name.endsWith(".ts")) {
        const file = relative(SOURCE, path);
        const text = readFileSync(path, "utf8");
        for (const match of text.matchAll(/process\.env(?:\?\.|\.)([A-Za-z_$][\w$]*)|process\.env(?:\?\.)?\[\s*(?:"([^"]*)"|'([^']*)'|`([^`$]*)`|([^\]]*))\s*\]/g)) {
          const name = match[1] ?? match[2] ?? match[3] ?? match[4];
          if (name === undefined) dynamic.push(`${file}: process.env[${match[5]}]`);
          else byName.set(name, [...(byName.get(name) ?? []), file]);
        }
      }
    }
  };
  visit(SOURCE);
  return { byName, dynamic };
}

describe("docs/configuration.md agrees with the code", () => {
  it("documents every environment variable Herald reads", () => {
    for (const variable of [...ENV_VARIABLES, ...DIRECT_ENV_VARIABLES]) assert.ok(doc.includes(`\`${variable.name}\``), `${variable.name} is missing from docs/configuration.md`);
  });

  it("registers every variable the server reads from process.env in config/env.ts", () => {
    const registered = new Set([...ENV_VARIABLES, ...DIRECT_ENV_VARIABLES].map((variable) => variable.name));
    const { byName, dynamic } = processEnvReads();
    assert.deepEqual(dynamic, [], `read process.env by a literal name, so that this test can check it: ${dynamic.join("; ")}`);
    const missing = [...byName].filter(([name]) => !registered.has(name)).map(([name, files]) => `${name} (read in ${files.join(", ")})`);
    assert.deepEqual(missing, [], `read from process.env but missing from the env registry, packages/server/src/config/env.ts: ${missing.join("; ")}`);
    for (const variable of DIRECT_ENV_VARIABLES) {
      assert.deepEqual([...(byName.get(variable.name) ?? [])].sort(), [...variable.readBy].sort(), `${variable.name}: readBy in config/env.ts lists the files that read it`);
    }
  });

  it("documents every setting with its default", () => {
    const defaults = loadConfig({ env: {} }) as unknown as Record<string, unknown>;
    const keys: string[] = [];
    for (const [key, value] of Object.entries(defaults)) {
      if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length > 0) {
        for (const child of Object.keys(value)) keys.push(`${key}.${child}`);
      } else keys.push(key);
    }
    for (const key of keys) assert.match(doc, new RegExp(`^\\| \`${key.replace(".", "\\.")}\` \\|`, "m"), `${key} has no row in docs/configuration.md`);
  });
});
