/**
 * Turns an upstream message into Herald events with the bridge's `map` rules.
 *
 * WebSocket upstreams send text frames, parsed as JSON; a rule's `match` is an object of
 * dot paths and the values they must equal (`{"e": "ORDER_TRADE_UPDATE"}`), and templates read
 * the message itself (`{o.s}`). Socket.IO upstreams send named events; `match` is the event name
 * and templates read `{event}`, `{data.…}` (the first argument) and `{args.N…}`.
 * Every matching rule yields one event, so one message may feed several channels.
 */

import type { BridgeConfig } from "../config/integrations-schema.js";
import { pick, render } from "../shared/template.js";
import type { UpstreamMessage } from "./upstream.js";
import { HeraldError } from "../shared/herald-error.js";

export interface MappedEvent {
  readonly channel: string;
  readonly type: string;
  readonly data: unknown;
  readonly tags?: Record<string, string>;
}

type MapRule = BridgeConfig["map"][number];

export function mapMessage(rules: readonly MapRule[], message: UpstreamMessage): MappedEvent[] {
  let context: unknown;
  let name: string | undefined;
  if (message.kind === "text") {
    try {
      context = JSON.parse(message.text);
    } catch {
      throw new HeraldError("invalid_json", `not JSON: ${message.text.slice(0, 80)}`);
    }
    if (context === null || typeof context !== "object") throw new HeraldError("invalid_json", "not a JSON object or array");
  } else {
    name = message.event;
    context = { event: message.event, data: message.args[0] ?? null, args: message.args };
  }
  const out: MappedEvent[] = [];
  for (const rule of rules) {
    if (!matches(rule.match, context, name)) continue;
    const channel = render(rule.channel, context);
    const type = render(rule.type, context);
    if (channel.missing.length > 0 || type.missing.length > 0) {
      throw new HeraldError("invalid_body", `message lacks ${[...channel.missing, ...type.missing].join(", ")} needed by the map`);
    }
    const data = rule.data === undefined ? (message.kind === "text" ? context : (context as { data: unknown }).data) : pick(context, rule.data);
    const mapped: MappedEvent = { channel: channel.text, type: type.text, data: data === undefined ? null : data };
    out.push(rule.tags === undefined ? mapped : { ...mapped, tags: renderTags(rule.tags, context) });
  }
  return out;
}

/** A rule's tag templates over the message; a tag whose field the message lacks is left out rather than failing the event. */
function renderTags(templates: Record<string, string>, context: unknown): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const [name, template] of Object.entries(templates)) {
    const value = render(template, context);
    if (value.missing.length === 0) tags[name] = value.text;
  }
  return tags;
}

function matches(match: MapRule["match"], context: unknown, event: string | undefined): boolean {
  if (typeof match === "string") return event === match;
  return Object.entries(match).every(([path, value]) => pick(context, path) === value);
}
