export { ErrorCodes, CloseCodes, ClosingErrorCodes, closeAction, closeCodeOfError, isErrorCode, isRetryable, RetryableErrorCodes } from "./codes.js";
export type { ErrorCode, ErrorCodeInfo, CloseAction, CloseCodeInfo, CloseCodeName } from "./codes.js";
export {
  CONTROL_TYPES,
  MAX_CHANNEL_LENGTH,
  MAX_EVENT_TYPE_LENGTH,
  channelProblem,
  eventTypeProblem,
  namespaceOf,
} from "./channel.js";
export { channelMatches, anyChannelMatches, isChannelPattern, patternProblem, patternPrefix } from "./channel-pattern.js";
export { parseClientFrame, validateClientFrame, parseSince, deltaProblem } from "./parse.js";
export type { ParseResult } from "./parse.js";
export { backoffDelay, DEFAULT_BACKOFF } from "./backoff.js";
export type { BackoffOptions } from "./backoff.js";
export { encodeCursor, decodeCursor } from "./cursor.js";
export type { Cursor } from "./cursor.js";
export type * from "./frames.js";
export const PROTOCOL_VERSION = 1;
export { encodeEvent, ENVELOPES } from "./envelope.js";
export type { EnvelopeName, EventFields } from "./envelope.js";
export { FORMAT_PARAM, FORMAT_SUBPROTOCOLS, WIRE_FORMATS, requestedWireFormat } from "./wire-format.js";
export type { WireFormat } from "./wire-format.js";
// compileTagFilter and tagsProblem: from "@herald/protocol/tag-filter", so that bundles that do not use them leave them out.
export type { EventTags, TagFilter, TagFilterResult } from "./tag-filter.js";
