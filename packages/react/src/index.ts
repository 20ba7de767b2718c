export { HeraldProvider } from "./HeraldProvider.js";
export type { HeraldProviderProps } from "./HeraldProvider.js";
export { useHerald } from "./context.js";
export { useConnectionState } from "./useConnectionState.js";
export { useSubscription } from "./useSubscription.js";
export { useEvent } from "./useEvent.js";
export { useLatest } from "./useLatest.js";
export { useChannelState } from "./useChannelState.js";
export type { ChannelStateOptions } from "./useChannelState.js";
