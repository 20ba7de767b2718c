/**
 * Who may read, publish and administer, in words, from the configuration alone: printed in the
 * start-up banner and by `herald serve --check`. An open hub must say that it is open, and one that
 * listens beyond loopback with channels anyone can read gets a warning, not a footnote.
 */

import type { HeraldConfig } from "../config/schema.js";
import { ApiKeys } from "../auth/api-keys.js";

export interface SecurityPosture {
  /** Who may read channels: one line, then one per namespace or route with its own rule. */
  readonly read: string[];
  readonly publish: string;
  readonly admin: string;
  readonly origins: string;
  /** What an operator should change before exposing this hub. */
  readonly warnings: string[];
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "::1", "localhost"]);

export function describeSecurityPosture(config: HeraldConfig): SecurityPosture {
  const authConfigured = config.auth.jwt !== undefined || config.auth.token !== undefined || config.auth.proxy?.connect !== undefined;
  const method = config.auth.jwt ? "a JWT" : config.auth.token ? "the static token" : "the app's session (connect proxy)";
  const read: string[] = [];
  const openToAnyone: string[] = [];

  if (!authConfigured) {
    read.push("anyone who reaches the port may read every channel (no auth configured)");
    openToAnyone.push("every channel");
  } else {
    read.push(`connections signed in with ${method} may read every channel of a namespace not listed below${config.auth.required ? "; a connection must sign in first" : ""}`);
  }
  for (const [namespace, rules] of Object.entries(config.namespaces).sort(([a], [b]) => a.localeCompare(b))) {
    const name = namespace === "" ? '"" (channels without a namespace)' : `${namespace}:`;
    if (rules.personal) {
      read.push(`  ${name} personal: ${namespace}:<user> is readable by that signed-in user only`);
      continue;
    }
    const policy = rules.subscribe ?? (authConfigured ? "authenticated" : "public");
    if (policy === "public") {
      read.push(`  ${name} anyone`);
      if (authConfigured) openToAnyone.push(`${namespace}:*`);
    } else if (policy === "authenticated") read.push(`  ${name} any signed-in connection`);
    else if (policy === "proxy") read.push(`  ${name} whom the app's subscribe proxy allows`);
    else read.push(`  ${name} only with a subscription token naming the channel`);
  }
  for (const route of config.routes) {
    if (!route.grant) continue;
    read.push(`  route ${route.path}: anyone with a URL that passes its checks gets ${route.subscribe.join(", ")}`);
    openToAnyone.push(`route ${route.path}`);
  }
  if (authConfigured && !Object.values(config.namespaces).some((rules) => rules.personal)) {
    read.push("  (no namespace is personal: a signed-in user may read user:42 as well as their own; set namespaces.user.personal: true)");
  }

  const warnings: string[] = [];
  if (!LOOPBACK_HOSTS.has(config.host) && openToAnyone.length > 0) {
    warnings.push(
      `listening on ${config.host}, beyond loopback, with channels anyone can read (${openToAnyone.join(", ")}): ` +
        "configure auth (docs/security.md) or listen on 127.0.0.1 (--host 127.0.0.1)",
    );
  }

  const admin = config.security.adminToken === undefined
    ? "dashboard and admin API: the admin token generated at start (shown in the banner)"
    : "dashboard and admin API: the configured admin token";
  const origins = config.security.allowedOrigins
    ? `browser origins allowed: ${config.security.allowedOrigins.join(", ")}`
    : config.auth.cookie
      ? "browser origins allowed: this hub's own (tokens may come from a cookie)"
      : "browser origins allowed: any";
  return { read, publish: new ApiKeys(config.publish).describe(), admin, origins, warnings };
}
