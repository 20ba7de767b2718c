export { createHerald, Herald } from "./herald.js";
export type { HeraldOptions, PublishResult } from "./herald.js";
export { loadConfig, validateConfig } from "./config/load.js";
export type { HeraldConfig, HeraldConfigInput, RouteConfig, NamespaceConfig } from "./config/schema.js";
export { MemoryEngine } from "./engine/memory.js";
export type {
  Engine,
  EngineHandler,
  EngineStatus,
  HistoryQuery,
  HistoryResult,
  PresenceEntry,
  StreamEvent,
  StreamOptions,
  SurveyResult,
} from "./engine/engine.js";
export type { ChannelCount, ChannelInfo, ChannelsResult, DisconnectOptions, DisconnectResult, Reach, SubscribeResult, UnsubscribeResult } from "./hub/cluster-actions.js";
export type { Authorizer } from "./hub/authorizer.js";
export { HeraldError } from "./shared/herald-error.js";
export type { Session, TransportName } from "./hub/session.js";
export { signWebhook, verifyWebhook, SIGNATURE_HEADER } from "./sinks/webhook-signature.js";
export type { VerifyWebhookOptions } from "./sinks/webhook-signature.js";
