export { Herald } from "./herald.js";
export type {
  ConnectionState,
  StateReason,
  StateChange,
  HeraldEvents,
  HeraldErrorContext,
  ServerSubscribedContext,
  HeraldOptions,
  ReconnectOptions,
  HistoryOptions,
  HistoryResult,
  PresenceResult,
} from "./herald.js";
export { Subscription } from "./subscription.js";
export type {
  EventMap,
  ChannelView,
  SubscriptionHandler,
  SubscriptionSnapshot,
  SubscriptionStatus,
  SubscriptionControlEvents,
  SubscribedContext,
  RecoveryFailedContext,
  SubscriptionErrorContext,
  UnsubscribedContext,
  SubscribeOptions,
} from "./subscription.js";
export type { GetState, LoadedState, StateLoadedContext } from "./state-sync.js";
export { HeraldError } from "./errors.js";
export { backoffDelay } from "@herald/protocol";
export type { BackoffOptions } from "@herald/protocol";
export type { TransportName, WebSocketConstructor, WebSocketLike } from "./transports/transport.js";
export type { WireCodec } from "./wire-codec.js";
export type { CacheResult, EventFrame, PublishedFrame, StreamPosition } from "@herald/protocol";
