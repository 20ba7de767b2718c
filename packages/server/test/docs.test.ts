import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { loadConfig } from "@herald/server";
import { ENV_VARIABLES } from "../src/config/env.js";

const doc = readFileSync(new URL("../../../docs/configuration.md", import.meta.url), "utf8");

describe("docs/configuration.md agrees with the code", () => {
  it("documents every environment variable Herald reads", () => {
    for (const variable of ENV_VARIABLES) assert.ok(doc.includes(`\`${variable.name}\``), `${variable.name} is missing from docs/configuration.md`);
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
