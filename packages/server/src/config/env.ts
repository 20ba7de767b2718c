/**
 * Every environment variable the server reads: the HERALD_* variables and the config key each one
 * sets (ENV_VARIABLES, applied by loadConfig), and the few read straight from process.env outside
 * the configuration (DIRECT_ENV_VARIABLES). docs/configuration.md documents each; the docs test
 * fails on a process.env read in packages/server/src that is in neither list.
 */

export type EnvKind = "string" | "int" | "list" | "bool" | "strings" | "hmacKeys";

export interface EnvVariable {
  readonly name: string;
  readonly path: readonly string[];
  readonly kind: EnvKind;
  readonly description: string;
}

export const ENV_VARIABLES: readonly EnvVariable[] = [
  { name: "HERALD_PORT", path: ["port"], kind: "int", description: "Port to listen on (PORT is read too)." },
  { name: "PORT", path: ["port"], kind: "int", description: "Port to listen on, as set by hosting platforms; HERALD_PORT wins when both are set." },
  { name: "HERALD_HOST", path: ["host"], kind: "string", description: "Address to bind." },
  { name: "HERALD_NODE", path: ["node"], kind: "string", description: "This node's name." },
  { name: "HERALD_LOG_LEVEL", path: ["logLevel"], kind: "string", description: "fatal, error, warn, info, debug, trace or silent." },
  { name: "HERALD_ENGINE", path: ["engine", "type"], kind: "string", description: "memory or redis." },
  { name: "REDIS_URL", path: ["engine", "redisUrl"], kind: "string", description: "Redis URL for the redis engine." },
  { name: "HERALD_REDIS_URL", path: ["engine", "redisUrl"], kind: "string", description: "Redis URL; wins over REDIS_URL." },
  { name: "HERALD_REDIS_CLUSTER", path: ["engine", "redisCluster"], kind: "strings", description: "Comma-separated seed URLs of a Redis Cluster, instead of a Redis URL." },
  { name: "HERALD_REDIS_SHARDS", path: ["engine", "redisShards"], kind: "strings", description: "Comma-separated URLs of independent Redis shards, instead of a Redis URL; order matters." },
  { name: "HERALD_REDIS_PREFIX", path: ["engine", "prefix"], kind: "string", description: "Prefix of Herald's Redis keys (default herald:)." },
  { name: "HERALD_PRESENCE_TTL", path: ["engine", "presenceTtl"], kind: "string", description: "How long a stopped node's presence and connections outlive it (redis)." },
  { name: "HERALD_ONLINE_GRACE", path: ["online", "grace"], kind: "string", description: "How long a user stays online after their last connection closed." },
  { name: "HERALD_ONLINE_CHANNEL", path: ["online", "channel"], kind: "string", description: "Channel for user_online and user_offline events." },
  { name: "HERALD_PING_INTERVAL", path: ["pingInterval"], kind: "string", description: "Time between server pings." },
  { name: "HERALD_IDLE_TIMEOUT", path: ["idleTimeout"], kind: "string", description: "Deadline to subscribe or authenticate." },
  { name: "HERALD_SEND_QUEUE_BYTES", path: ["sendQueueBytes"], kind: "string", description: "Per-connection send queue cap." },
  { name: "HERALD_MAX_PAYLOAD", path: ["maxPayload"], kind: "string", description: "Largest frame a client may send." },
  { name: "HERALD_MAX_SUBSCRIPTIONS", path: ["maxSubscriptionsPerConnection"], kind: "int", description: "Subscriptions per connection." },
  { name: "HERALD_SHUTDOWN_TIMEOUT", path: ["shutdownTimeout"], kind: "string", description: "Longest a graceful shutdown waits." },
  { name: "HERALD_HISTORY_SIZE", path: ["history", "size"], kind: "int", description: "Default events kept per channel." },
  { name: "HERALD_HISTORY_TTL", path: ["history", "ttl"], kind: "string", description: "Default time events are kept." },
  { name: "HERALD_API_KEYS", path: ["publish", "apiKeys"], kind: "list", description: "Comma-separated publish API keys, each `key` or `name=key`." },
  { name: "HERALD_PUBLISH_MAX_BODY", path: ["publish", "maxBodyBytes"], kind: "string", description: "Largest publish body." },
  { name: "HERALD_POLLING_MAX_TIMEOUT", path: ["polling", "maxTimeout"], kind: "string", description: "Longest long-poll wait." },
  { name: "DATABASE_URL", path: ["sources", "postgres", "url"], kind: "string", description: "PostgreSQL URL; when set, Herald drains the Postgres outbox." },
  { name: "HERALD_DATABASE_URL", path: ["sources", "postgres", "url"], kind: "string", description: "PostgreSQL URL; wins over DATABASE_URL." },
  { name: "SMTP_SERVER", path: ["sinks", "email", "smtp", "host"], kind: "string", description: "SMTP host for the email sink." },
  { name: "SMTP_PORT", path: ["sinks", "email", "smtp", "port"], kind: "int", description: "SMTP port (default 587; 465 means implicit TLS)." },
  { name: "SMTP_USERNAME", path: ["sinks", "email", "smtp", "username"], kind: "string", description: "SMTP user name." },
  { name: "SMTP_PASSWORD", path: ["sinks", "email", "smtp", "password"], kind: "string", description: "SMTP password." },
  { name: "FROM_EMAIL", path: ["sinks", "email", "from", "email"], kind: "string", description: "Sender address of emails." },
  { name: "FROM_NAME", path: ["sinks", "email", "from", "name"], kind: "string", description: "Sender name of emails." },
  { name: "HERALD_SINK_STORE", path: ["sinks", "queue", "store"], kind: "string", description: "Where email and webhook deliveries wait: auto, memory, redis or postgres." },
  { name: "HERALD_HMAC_KEYS", path: ["publish", "hmacKeys"], kind: "hmacKeys", description: "Comma-separated `id=secret` pairs for HMAC-signed publish requests." },
  { name: "HERALD_JWT_SECRET", path: ["auth", "jwt", "secret"], kind: "string", description: "HS256 secret for connection tokens." },
  { name: "HERALD_JWT_PUBLIC_KEY", path: ["auth", "jwt", "publicKey"], kind: "string", description: "PEM public key for RS256/ES256 connection tokens." },
  { name: "HERALD_JWKS_URL", path: ["auth", "jwt", "jwksUrl"], kind: "string", description: "JWKS URL for connection tokens." },
  { name: "HERALD_JWT_ISSUER", path: ["auth", "jwt", "issuer"], kind: "string", description: "Required `iss` of tokens." },
  { name: "HERALD_JWT_AUDIENCE", path: ["auth", "jwt", "audience"], kind: "string", description: "Required `aud` of tokens." },
  { name: "WS_AUTH_TOKEN", path: ["auth", "token"], kind: "string", description: "One shared connection token (the analytics seed's name); HERALD_AUTH_TOKEN wins." },
  { name: "HERALD_AUTH_TOKEN", path: ["auth", "token"], kind: "string", description: "One shared connection token." },
  { name: "HERALD_AUTH_REQUIRED", path: ["auth", "required"], kind: "bool", description: "true: every connection must authenticate first." },
  { name: "HERALD_AUTH_COOKIE", path: ["auth", "cookie"], kind: "string", description: "Cookie that may carry the connection token." },
  { name: "HERALD_TRUST_PROXY", path: ["trustProxy"], kind: "strings", description: "Comma-separated reverse proxies (addresses or CIDRs) whose X-Forwarded-For / X-Real-IP are believed." },
  { name: "HERALD_ALLOWED_ORIGINS", path: ["security", "allowedOrigins"], kind: "strings", description: "Comma-separated browser origins allowed (WebSocket, SSE, CORS)." },
  { name: "HERALD_ADMIN_TOKEN", path: ["security", "adminToken"], kind: "string", description: "Bearer token for the admin surface (dashboard, admin feed, status detail); generated per process when not set." },
  { name: "HERALD_MAX_CONNECTIONS", path: ["limits", "maxConnections"], kind: "int", description: "Connections per node." },
  { name: "HERALD_MAX_CONNECTIONS_PER_IP", path: ["limits", "maxConnectionsPerIp"], kind: "int", description: "Connections per client IP." },
  { name: "HERALD_FRAMES_PER_SECOND", path: ["limits", "framesPerSecond"], kind: "int", description: "Frames per second per connection." },
  { name: "HERALD_PER_MESSAGE_DEFLATE", path: ["websocket", "perMessageDeflate"], kind: "bool", description: "true: offer permessage-deflate." },
  // The common one-app case; they set (or add) the first entry of pusher.apps.
  { name: "HERALD_PUSHER_APP_ID", path: ["pusher", "apps", "0", "id"], kind: "string", description: "Pusher app id (the first app)." },
  { name: "HERALD_PUSHER_KEY", path: ["pusher", "apps", "0", "key"], kind: "string", description: "Pusher app key (the first app)." },
  { name: "HERALD_PUSHER_SECRET", path: ["pusher", "apps", "0", "secret"], kind: "string", description: "Pusher app secret (the first app)." },
  { name: "HERALD_PUSHER_CLIENT_EVENTS", path: ["pusher", "apps", "0", "clientEvents"], kind: "bool", description: "true: the first Pusher app accepts client-* events." },
  { name: "HERALD_PUSHER_WEBHOOK_URL", path: ["pusher", "apps", "0", "webhooks", "0", "url"], kind: "string", description: "URL the first Pusher app's webhooks (every kind) are POSTed to." },
];

export interface DirectEnvVariable {
  readonly name: string;
  /** The files under packages/server/src that read it from process.env. */
  readonly readBy: readonly string[];
  readonly description: string;
}

/** Read where no configuration exists yet (the config file's path) or by one module itself; they set no config key. */
export const DIRECT_ENV_VARIABLES: readonly DirectEnvVariable[] = [
  { name: "HERALD_CONFIG", readBy: ["cli.ts", "sources/postgres-cli.ts"], description: "Path of the JSON or YAML config file for `herald serve` and `herald pg`; `--config` wins." },
  { name: "HERALD_WORKERS", readBy: ["cli.ts"], description: "`herald serve`: processes sharing the port (a number, or auto for one per core); `--workers` wins." },
  { name: "HERALD_DASHBOARD_DIR", readBy: ["http/dashboard.ts"], description: "Directory of the dashboard build served at /dashboard, instead of the @herald/dashboard package's dist; read when the HTTP app is built, also when embedding." },
  { name: "OTEL_EXPORTER_OTLP_ENDPOINT", readBy: ["shared/tracing.ts"], description: "OpenTelemetry: the OTLP/HTTP collector (e.g. http://localhost:4318); set, Herald exports traces of events to `<endpoint>/v1/traces`. Unset (the default), tracing is off and costs nothing." },
  { name: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", readBy: ["shared/tracing.ts"], description: "OpenTelemetry: the full URL for traces, instead of OTEL_EXPORTER_OTLP_ENDPOINT's `/v1/traces`." },
  { name: "OTEL_SERVICE_NAME", readBy: ["shared/tracing.ts"], description: "OpenTelemetry: the service name on Herald's spans (default herald)." },
  { name: "OTEL_BSP_SCHEDULE_DELAY", readBy: ["shared/tracing.ts"], description: "OpenTelemetry: milliseconds between span exports (default 1000)." },
  { name: "OTEL_SDK_DISABLED", readBy: ["shared/tracing.ts"], description: "OpenTelemetry: true turns tracing off even with an endpoint set." },
];

/** Parses one variable's text into the value its key expects; a bad int is left as text for the schema to refuse. */
export function envValue(variable: EnvVariable, text: string): unknown {
  if (variable.kind === "int") return /^\s*-?\d+\s*$/.test(text) ? Number(text) : text;
  if (variable.kind === "bool") return /^(1|true|yes|on)$/i.test(text.trim()) ? true : /^(0|false|no|off)$/i.test(text.trim()) ? false : text;
  if (variable.kind === "strings") return text.split(",").map((item) => item.trim()).filter((item) => item.length > 0);
  if (variable.kind === "hmacKeys") {
    return text
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item.length > 0)
      .map((item) => {
        const eq = item.indexOf("=");
        return eq > 0 ? { id: item.slice(0, eq), secret: item.slice(eq + 1) } : { id: "", secret: item };
      });
  }
  if (variable.kind === "list") {
    return text
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item.length > 0)
      .map((item) => {
        const eq = item.indexOf("=");
        return eq > 0 ? { name: item.slice(0, eq), key: item.slice(eq + 1) } : item;
      });
  }
  return text;
}
