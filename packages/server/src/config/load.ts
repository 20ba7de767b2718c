/** Loads the configuration: defaults < config file < environment < explicit overrides (CLI flags). */

import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { parse as parseYaml } from "yaml";
import { configSchema, type HeraldConfig, type HeraldConfigInput } from "./schema.js";
import { ENV_VARIABLES, envValue } from "./env.js";
import { HeraldError } from "../shared/herald-error.js";


type Json = Record<string, unknown>;

export interface LoadConfigOptions {
  /** Path of a JSON or YAML file. */
  file?: string;
  /** Environment to read HERALD_* variables from; pass {} to ignore the environment. */
  env?: Record<string, string | undefined>;
  /** Values that win over everything else (from CLI flags or code). */
  overrides?: HeraldConfigInput;
}

export function loadConfig(options: LoadConfigOptions = {}): HeraldConfig {
  const origins = new Map<string, string>();
  let merged: Json = {};
  if (options.file) {
    merged = readConfigFile(options.file);
    for (const path of leafPaths(merged)) origins.set(path, options.file);
  }
  const env = options.env ?? process.env;
  // Variables later in the table win (HERALD_PORT after PORT), so apply in reverse priority order.
  const ordered = [...ENV_VARIABLES].sort((a, b) => priority(a.name) - priority(b.name));
  for (const variable of ordered) {
    const text = env[variable.name];
    if (text === undefined || text === "") continue;
    setPath(merged, variable.path, envValue(variable, text));
    origins.set(variable.path.join("."), variable.name);
  }
  if (options.overrides) {
    merged = deepMerge(merged, options.overrides as Json);
    for (const path of leafPaths(options.overrides as Json)) origins.set(path, "command line");
  }
  return validateConfig(merged, origins);
}

/** Validates a config object, throwing an `invalid_config` HeraldError whose message names the first bad key. */
export function validateConfig(input: unknown, origins: Map<string, string> = new Map()): HeraldConfig {
  const result = configSchema.safeParse(input ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.path.map(String).join(".");
  const origin = originOf(path, origins);
  let message = issue.message;
  if (issue.code === "unrecognized_keys") {
    const keys = (issue as { keys: string[] }).keys;
    const where = path ? ` in ${path}` : "";
    message = `unknown key${keys.length > 1 ? "s" : ""} ${keys.map((k) => `"${k}"`).join(", ")}${where}; see docs/configuration.md for the keys Herald reads`;
    throw new HeraldError("invalid_config", `invalid configuration${origin ? ` (${origin})` : ""}: ${message}`);
  }
  throw new HeraldError("invalid_config", `invalid configuration: ${path || "(root)"}${origin ? ` (from ${origin})` : ""}: ${message}`);
}

function priority(name: string): number {
  return name === "PORT" || name === "REDIS_URL" || name === "DATABASE_URL" || name === "WS_AUTH_TOKEN" ? 0 : 1;
}

function originOf(path: string, origins: Map<string, string>): string | undefined {
  for (let p = path; p; p = p.includes(".") ? p.slice(0, p.lastIndexOf(".")) : "") {
    const origin = origins.get(p);
    if (origin) return origin;
  }
  return undefined;
}

function readConfigFile(file: string): Json {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new HeraldError("invalid_config", `cannot read config file ${file}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = extname(file).toLowerCase() === ".json" ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new HeraldError("invalid_config", `config file ${file} is not valid ${extname(file) === ".json" ? "JSON" : "YAML"}: ${(error as Error).message.split("\n")[0]}`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw new HeraldError("invalid_config", `config file ${file} must hold an object of settings`);
  return value as Json;
}

function setPath(target: Json, path: readonly string[], value: unknown): void {
  let node = target;
  for (const [depth, key] of path.slice(0, -1).entries()) {
    const next = node[key];
    // A numeric segment names an array entry (pusher.apps.0.key): the array is kept, or made.
    const wantsArray = /^\d+$/.test(path[depth + 1]!);
    if (typeof next !== "object" || next === null || Array.isArray(next) !== wantsArray) node[key] = wantsArray ? [] : {};
    node = node[key] as Json;
  }
  node[path[path.length - 1]!] = value;
}

function deepMerge(base: Json, extra: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) continue;
    const current = out[key];
    const bothObjects = isPlainObject(current) && isPlainObject(value);
    out[key] = bothObjects ? deepMerge(current as Json, value as Json) : value;
  }
  return out;
}

function isPlainObject(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function leafPaths(value: Json, prefix = ""): string[] {
  const paths: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (isPlainObject(child)) paths.push(path, ...leafPaths(child as Json, path));
    else paths.push(path);
  }
  return paths;
}
