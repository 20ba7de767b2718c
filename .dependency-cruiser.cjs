// The server's layers, enforced by `npm run deps` (and the first step of `npm test`).
//
// Imports point one way, bottom to top:
//   @herald/protocol, config/, shared/   vocabulary and settings; import nothing of the server
//   engine/                              storage of streams (memory, Redis)
//   hub/                                 sessions, subscriptions, fan-out; the Authorizer contract it calls
//   auth/, limits/, ops/, sources/, sinks/
//                                        who may do what, how much, metrics and logs over the hub,
//                                        and the integrations that publish into or read from the hub
//   integrations/                        builds the sources and sinks from config and attaches them to a hub
//   transports/                          WebSocket, SSE, polling; the HTTP context and error they share
//   pusher/                              the Pusher protocol's front door (endpoint, HTTP API) on the hub;
//                                        nothing but the wiring imports it
//   http/                                the Fastify app: API routes, admin feed, dashboard
//   herald.ts, cli.ts, index.ts          wiring: build every piece and connect them
//   cluster/                             `herald serve --workers`: the primary and its workers, started by cli.ts
//
// A violation prints the rule's name and comment: each comment says what to do instead.
// When a lower layer needs something from a higher one, move the shared piece down (as
// websocket-frame.ts, authorizer.ts, http-error.ts, http-context.ts and template.ts were; backoff and
// channel patterns, which the client and dashboard share, went to @herald/protocol).

const SRC = "^packages/server/src/";
const WIRING = `${SRC}((herald|cli|index)\\.ts$|cluster/)`;
const under = (...folders) => `${SRC}(${folders.join("|")})/`;

/** A rule that forbids `from` (a layer) to import any of `above`. */
function layer(name, comment, from, above) {
  return { name, comment, severity: "error", from: { path: from }, to: { path: above } };
}

module.exports = {
  forbidden: [
    {
      name: "protocol-imports-no-package",
      comment:
        "@herald/protocol is the bottom of every package (server, client, dashboard) and ships in browsers: it must not import any other Herald package. Move the shared piece into packages/protocol instead.",
      severity: "error",
      from: { path: "^packages/protocol/src/" },
      to: { path: "^packages/(server|client|react|dashboard)/" },
    },
    layer(
      "config-and-shared-at-the-bottom",
      "config/ and shared/ sit at the bottom of the server with @herald/protocol: they may import only each other and the protocol. If they need something from a higher layer, that piece belongs in config/, shared/ or packages/protocol.",
      under("config", "shared"),
      [under("engine", "hub", "auth", "limits", "ops", "sources", "sinks", "integrations", "transports", "http"), WIRING],
    ),
    layer(
      "engine-below-hub",
      "engine/ stores streams and knows nothing of sessions, auth, transports or HTTP: it may import config/, shared/ and @herald/protocol only. Pass what the engine needs as arguments or move the shared type down into engine/engine.ts.",
      `${SRC}engine/`,
      [under("hub", "auth", "limits", "ops", "sources", "sinks", "integrations", "transports", "http"), WIRING],
    ),
    layer(
      "hub-below-auth-limits-and-transports",
      "hub/ may import engine/, config/, shared/ and @herald/protocol only. What the hub calls out to (the Authorizer contract, the WebSocket frame encoder) lives in hub/; auth/, limits/, transports/ implement or use it from above.",
      `${SRC}hub/`,
      [under("auth", "limits", "ops", "sources", "sinks", "integrations", "transports", "http"), WIRING],
    ),
    layer(
      "auth-limits-ops-below-transports",
      "auth/, limits/ and ops/ sit above the hub and below the transports: they may import hub/, engine/, config/, shared/, each other and @herald/protocol, never transports/, http/, integrations/, sources/, sinks/ or the wiring. Move a piece a transport and auth both need into auth/ (or lower).",
      under("auth", "limits", "ops"),
      [under("sources", "sinks", "integrations", "transports", "http"), WIRING],
    ),
    layer(
      "sources-and-sinks-below-integrations",
      "sources/ and sinks/ publish into and read from the hub: they may import hub/, engine/, config/, shared/ and @herald/protocol, never auth/, limits/, ops/, transports/, http/, integrations/ or the wiring. A helper both need goes in shared/ (templates) or @herald/protocol (backoff, channel patterns).",
      under("sources", "sinks"),
      [under("auth", "limits", "ops", "integrations", "transports", "http"), WIRING],
    ),
    {
      name: "sources-and-sinks-stay-apart",
      comment:
        "sources/ and sinks/ are independent of each other: integrations/ connects them through the hub. Move a helper they share into shared/.",
      severity: "error",
      from: { path: `${SRC}(sources|sinks)/` },
      to: { path: `${SRC}(sources|sinks)/`, pathNot: `${SRC}$1/` },
    },
    layer(
      "integrations-below-the-wiring",
      "integrations/ builds sources and sinks and attaches them to the hub: it must not import transports/, http/ or the wiring (herald.ts passes it what it needs).",
      `${SRC}integrations/`,
      [under("transports", "http"), WIRING],
    ),
    layer(
      "transports-below-http",
      "transports/ may import auth/, limits/, ops/, hub/, engine/, config/, shared/ and @herald/protocol, never http/, integrations/ or the wiring. What the HTTP routes and the transports share (HttpContext, HttpError, query parsing) lives in transports/.",
      `${SRC}transports/`,
      [under("http", "integrations", "sources", "sinks"), WIRING],
    ),
    layer(
      "pusher-beside-http",
      "pusher/ is a second front door at the level of the transports: it may import transports/, auth/, limits/, ops/, hub/, engine/, config/, shared/ and @herald/protocol, never http/, integrations/, sources/, sinks/ or the wiring (herald.ts passes it the Fastify app to register its HTTP API on).",
      `${SRC}pusher/`,
      [under("http", "integrations", "sources", "sinks"), WIRING],
    ),
    {
      name: "only-the-wiring-imports-pusher",
      comment:
        "Nothing but herald.ts (the wiring) imports pusher/: the hub, the transports and the HTTP API know nothing of the Pusher protocol. Move what they would need from pusher/ into their own layer.",
      severity: "error",
      from: { path: SRC, pathNot: [`${SRC}pusher/`, WIRING] },
      to: { path: `${SRC}pusher/` },
    },
    layer(
      "http-below-the-wiring",
      "http/ registers routes on the Fastify app; herald.ts builds it and passes an HttpContext. http/ must not import herald.ts, cli.ts, index.ts or integrations/ (reach integrations through HttpContext).",
      `${SRC}http/`,
      [under("integrations", "sources", "sinks"), WIRING],
    ),
    {
      name: "cluster-started-by-the-cli",
      comment:
        "cluster/ runs `herald serve --workers` (the primary and its workers): only cli.ts starts it, and embedding (herald.ts, index.ts) stays one process. A piece both need goes below: into ops/, engine/ or shared/.",
      severity: "error",
      from: { path: `${SRC}(herald|index)\\.ts$` },
      to: { path: `${SRC}cluster/` },
    },
    {
      name: "no-cycles-in-server",
      comment:
        "packages/server/src has no import cycles (type-only imports included): a cycle means two files are one concept or a shared piece must move down into its own file.",
      severity: "error",
      from: { path: SRC },
      to: { circular: true },
    },
  ],
  options: {
    includeOnly: "^packages/(server|protocol)/src/",
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.base.json" },
    enhancedResolveOptions: {
      conditionNames: ["herald-source", "import", "types", "default"],
      exportsFields: ["exports"],
      extensions: [".ts", ".js"],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
