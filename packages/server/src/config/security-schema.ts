/**
 * The settings of authentication, browser defences and limits (see docs/security.md). Kept apart
 * from schema.ts so each group reads on its own; schema.ts mounts them under `auth`, `security`,
 * `limits` and `websocket`. Every limit has a default that an honest client never reaches.
 */

import { z } from "zod";
import { duration, size } from "./units.js";

const secret = (what: string) => z.string().min(16, `${what} must be at least 16 characters`);

export const jwtSchema = z.strictObject({
  /** HS256 shared secret. */
  secret: secret("auth.jwt.secret").optional(),
  /** PEM public key (SPKI) for RS256 or ES256 tokens. */
  publicKey: z.string().optional(),
  /** URL of a JSON Web Key Set; keys are cached and refetched when a token names an unknown `kid`. */
  jwksUrl: z.url().optional(),
  /** Least time between two fetches of the key set (a flood of unknown `kid`s must not become a flood of fetches). */
  jwksCooldown: duration("30s"),
  /** Accepted algorithms; by default the one the key implies (HS256, RS256 or ES256; JWKS: RS256 and ES256). */
  algorithms: z.array(z.enum(["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"])).optional(),
  issuer: z.string().optional(),
  audience: z.string().optional(),
  /** Claim listing the channels (names or `*` patterns) the token may join; absent claim: no restriction. */
  channelsClaim: z.string().default("channels"),
  /** Allowed clock difference for `exp` and `nbf`. */
  clockTolerance: duration("5s"),
});

/** One endpoint of the app's backend that Herald asks (see docs/security.md, "The app's own session"). */
const proxyEndpointSchema = z.strictObject({
  url: z.url(),
  /** How long Herald waits for the answer before refusing with `auth_backend_unavailable`. */
  timeout: duration("3s"),
  /** How long an answer is reused for the same question (0: ask every time). */
  cacheTtl: duration("10s"),
});

export const authProxySchema = z.strictObject({
  /** Asked who a connection without a token is, with its cookies and the `headers` below. */
  connect: proxyEndpointSchema
    .extend({
      /** Request headers forwarded to the backend (lower case). */
      headers: z.array(z.string().toLowerCase()).default(["cookie", "authorization"]),
    })
    .optional(),
  /** Asked whether a connection may subscribe to a channel of a namespace with `subscribe: proxy`. */
  subscribe: proxyEndpointSchema.optional(),
});

export const authSchema = z
  .strictObject({
    jwt: jwtSchema.optional(),
    /** One shared token for small deployments: `?token=` (or the auth frame, or the cookie) must equal it. */
    token: secret("auth.token").optional(),
    /** Whether every connection must authenticate before anything else (WebSocket, SSE, polling, history). */
    required: z.boolean().default(false),
    /** Read the token from this cookie too (browsers cannot set headers on a WebSocket). */
    cookie: z.string().optional(),
    /** After a token expires on an open connection, time to send a fresh `auth` frame before the close with 4501. */
    expiryGrace: duration("30s"),
    /** Ask the app's backend instead of (or besides) reading a token: connect and subscribe proxies. */
    proxy: authProxySchema.optional(),
  })
  .prefault({});

export const hmacKeySchema = z.strictObject({ id: z.string().min(1), secret: secret("an HMAC secret") });

export const securitySchema = z
  .strictObject({
    /** Origins allowed to open WebSockets and SSE streams and to call the HTTP API from a browser (CORS). */
    allowedOrigins: z.array(z.string()).optional(),
    /** X-Content-Type-Options, X-Frame-Options, Referrer-Policy, a strict CSP on API answers. */
    headers: z.boolean().default(true),
    /** Bearer token for admin endpoints (/api/status detail, /metrics when protectMetrics, /dashboard). */
    adminToken: secret("security.adminToken").optional(),
    /** Whether /metrics also needs the admin token. */
    protectMetrics: z.boolean().default(false),
  })
  .prefault({});

export const limitsSchema = z
  .strictObject({
    maxConnections: z.number().int().min(1).default(100_000),
    maxConnectionsPerIp: z.number().int().min(1).default(10_000),
    /** New connections per IP per second (token bucket refill), and the burst it allows. */
    connectionRatePerIp: z.number().min(0.1).default(500),
    connectionBurstPerIp: z.number().int().min(1).default(2_000),
    /** Frames per second per connection (token bucket refill), and the burst it allows. */
    framesPerSecond: z.number().min(0.1).default(200),
    frameBurst: z.number().int().min(1).default(1_000),
    /** Time for a client to send complete request headers (a WebSocket upgrade included). */
    handshakeTimeout: duration("10s"),
    /** Time for a client to send a whole request, body included. */
    requestTimeout: duration("30s"),
  })
  .prefault({});

export const perMessageDeflateSchema = z.strictObject({
  /** Messages smaller than this are sent uncompressed. */
  threshold: size("1KiB"),
  /** Concurrent zlib operations per process. */
  concurrencyLimit: z.number().int().min(1).default(10),
});

export const websocketSchema = z
  .strictObject({
    /** Path of the protocol endpoint; move it when a route takes `/ws` for a seed's own frame shape. */
    path: z.string().startsWith("/").default("/ws"),
    /** permessage-deflate: false (default) or options; `maxPayload` still bounds the inflated size. */
    perMessageDeflate: z.union([z.literal(false), z.literal(true), perMessageDeflateSchema]).default(false),
  })
  .prefault({});
