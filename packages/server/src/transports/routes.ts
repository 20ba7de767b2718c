/**
 * Routes: URL shapes that existing clients already use, mapped onto subscriptions, e.g.
 * `/api/ws/{address}` → `user:{address}`. Each parameter is checked against its pattern, and a
 * failed check answers with the route's own message ("Invalid user address").
 */

import { channelProblem, type EnvelopeName } from "@herald/protocol";
import type { RouteConfig } from "../config/schema.js";

export interface RouteMatch {
  readonly route: RouteConfig;
  readonly envelope: EnvelopeName;
}

export type RouteResolution =
  | { ok: true; channels: string[]; user: string | undefined; envelope: EnvelopeName; allowSubscribe: boolean; grant: boolean }
  | { ok: false; message: string };

interface CompiledRoute {
  readonly config: RouteConfig;
  /** Literal segments as strings, placeholders as { name }. */
  readonly segments: ReadonlyArray<string | { name: string }>;
  readonly patterns: ReadonlyMap<string, RegExp>;
}

const PLACEHOLDER = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/;
const TEMPLATE_PARAM = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export class RouteTable {
  private readonly compiled: CompiledRoute[];

  constructor(routes: readonly RouteConfig[]) {
    this.compiled = routes.map(compile);
  }

  get size(): number {
    return this.compiled.length;
  }

  /** Finds the route for a path and checks its parameters; undefined when no route has this shape. */
  resolve(pathname: string, query: URLSearchParams): RouteResolution | undefined {
    const parts = splitPath(pathname);
    for (const route of this.compiled) {
      const pathParams = matchSegments(route.segments, parts);
      if (pathParams) return resolveParams(route, pathParams, query);
    }
    return undefined;
  }
}

function compile(config: RouteConfig): CompiledRoute {
  const segments = splitPath(config.path).map((part) => {
    const match = PLACEHOLDER.exec(part);
    return match ? { name: match[1]! } : part;
  });
  const patterns = new Map<string, RegExp>();
  for (const [name, param] of Object.entries(config.params)) {
    if (param.pattern === undefined) continue;
    try {
      patterns.set(name, new RegExp(param.pattern));
    } catch (error) {
      throw new Error(`route ${config.path}: params.${name}.pattern is not a valid regular expression: ${(error as Error).message}`);
    }
  }
  return { config, segments, patterns };
}

function splitPath(pathname: string): string[] {
  return pathname.split("/").filter((part) => part.length > 0);
}

function matchSegments(segments: CompiledRoute["segments"], parts: string[]): Map<string, string> | undefined {
  if (segments.length !== parts.length) return undefined;
  const params = new Map<string, string>();
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const part = parts[i]!;
    if (typeof segment === "string") {
      if (segment !== part) return undefined;
    } else {
      let value: string;
      try {
        value = decodeURIComponent(part);
      } catch {
        value = part;
      }
      params.set(segment.name, value);
    }
  }
  return params;
}

function resolveParams(route: CompiledRoute, pathParams: Map<string, string>, query: URLSearchParams): RouteResolution {
  const values = new Map<string, string>();
  const names = new Set<string>([...pathParams.keys(), ...Object.keys(route.config.params)]);
  for (const name of names) {
    const spec = route.config.params[name];
    let value = pathParams.get(name) ?? query.get(name) ?? undefined;
    if (value === undefined || value === "") {
      if (spec?.optional) continue;
      return { ok: false, message: spec?.message ?? `missing parameter "${name}"` };
    }
    if (spec?.transform === "lower") value = value.toLowerCase();
    if (spec?.transform === "upper") value = value.toUpperCase();
    const pattern = route.patterns.get(name);
    if (pattern && !pattern.test(value)) return { ok: false, message: spec?.message ?? `parameter "${name}" does not match ${pattern.source}` };
    values.set(name, value);
  }
  const channels: string[] = [];
  const templates = route.config.subscribe;
  for (const template of templates) {
    let missing = false;
    const channel = template.replace(TEMPLATE_PARAM, (_, name: string) => {
      const value = values.get(name);
      if (value === undefined) missing = true;
      return value ?? "";
    });
    // A template that names an optional parameter the client left out is skipped.
    if (missing) continue;
    const problem = channelProblem(channel);
    if (problem) return { ok: false, message: `the URL gives an invalid channel name: ${problem}` };
    channels.push(channel);
  }
  if (channels.length === 0) channels.push(...route.config.fallback);
  const user = route.config.user === undefined ? undefined : values.get(route.config.user);
  return { ok: true, channels, user, envelope: route.config.envelope, allowSubscribe: route.config.allowSubscribe, grant: route.config.grant };
}
