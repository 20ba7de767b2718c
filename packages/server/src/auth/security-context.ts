/** The defences the HTTP routes and transports share, built once from the configuration. */

import type { HeraldConfig } from "../config/schema.js";
import { ConnectionLimiter } from "../limits/connection-limiter.js";
import { FrameRateLimiter } from "../limits/frame-rate.js";
import { LimitHits } from "../limits/limit-hits.js";
import { AdminGuard } from "./admin-guard.js";
import { HmacVerifier } from "./hmac-signature.js";
import { OriginPolicy } from "./origin-policy.js";
import { ClientAddress } from "../shared/client-address.js";

export interface SecurityContext {
  readonly hits: LimitHits;
  readonly connections: ConnectionLimiter;
  readonly frames: FrameRateLimiter;
  readonly origins: OriginPolicy;
  readonly admin: AdminGuard;
  readonly hmac: HmacVerifier;
  /** Cookie that may carry the connection token. */
  readonly cookieName: string | undefined;
  /** The client's address behind trusted proxies (`trustProxy`). */
  readonly clientAddress: ClientAddress;
}

/** `adminToken` is the effective admin token (configured, or generated at start). */
export function createSecurityContext(config: HeraldConfig, adminToken: string): SecurityContext {
  const hits = new LimitHits();
  return {
    hits,
    connections: new ConnectionLimiter(config.limits, hits),
    frames: new FrameRateLimiter(config.limits, hits),
    origins: new OriginPolicy(config),
    admin: new AdminGuard(adminToken),
    hmac: new HmacVerifier(config.publish),
    cookieName: config.auth.cookie,
    clientAddress: new ClientAddress(config.trustProxy),
  };
}
