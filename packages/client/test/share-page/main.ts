/**
 * The page the sharing tests open in several tabs: one client, as an app would create it, that
 * lists every `tick` offset it receives on `?channel=` (so the test sees any event lost or doubled).
 * `?share=off` turns sharing off; `?transports=` lists the transports; `?worker=1` gives the SharedWorker script; `?token=` is what getToken returns; `?extra=<channel>`
 * subscribes to one more channel, which only this tab needs. `?channel=` may be a pattern
 * (`orders:*`), with a tag filter in `?filter=`; every event of it is listed as `channel@offset`
 * (`#events`), and those of the extra channel too (`#extra-events`).
 */

import { Herald, type Subscription, type TransportName } from "@herald/client";

const params = new URLSearchParams(location.search);
const channel = params.get("channel") ?? "user:share";
const token = params.get("token");
let tokenCalls = 0;
const herald = new Herald({
  url: location.origin,
  reconnect: { minDelay: 100, maxDelay: 400 },
  ...(params.get("share") === "off" ? { share: false } : {}),
  ...(params.get("worker") ? { shareWorker: "/share-worker.js" } : {}),
  ...(token
    ? {
        getToken: () => {
          show("token-calls", String(++tokenCalls));
          return token;
        },
      }
    : {}),
  ...(params.get("transports") ? { transports: params.get("transports")!.split(",") as TransportName[] } : {}),
});

const show = (id: string, text: string) => {
  document.getElementById(id)!.textContent = text;
};
const offsets: number[] = [];
herald.on("state", ({ newState, transport }) => {
  show("state", newState);
  show("transport", transport);
});
const filter = params.get("filter");
const subscription = herald.subscribe(channel, filter === null ? {} : { filter });
subscription.watch(() => show("subscription", subscription.state.status));
subscription.on("tick", (_data, frame) => {
  offsets.push(frame.offset);
  show("offsets", offsets.join(","));
  show("count", String(offsets.length));
});
/** Lists every event of a subscription as `channel@offset`, in the order they came. */
const list = (of: Subscription, id: string) => {
  const events: string[] = [];
  of.onEvent((frame) => {
    events.push(`${frame.channel}@${frame.offset}`);
    show(id, events.join(","));
  });
};
list(subscription, "events");
let recoveryFailures = 0;
subscription.on("recovery_failed", () => show("recovery-failed", String(++recoveryFailures)));
const extra = params.get("extra");
if (extra) {
  const other = herald.subscribe(extra);
  other.watch(() => show("extra", other.state.status));
  list(other, "extra-events");
}
herald.connect();
// For the test to publish from this tab.
(globalThis as { herald?: Herald }).herald = herald;
// For the test to unsubscribe this tab's subscription.
(globalThis as { subscription?: Subscription }).subscription = subscription;
