/**
 * The hub's recovery ordering (hub/hub.ts, hub/subscription.ts), driven step by step: a
 * subscription is attached before history is read, live events that arrive meanwhile are parked,
 * history is sent, then the parked events follow with everything at or below the last sent offset
 * dropped. Events are published at each of those steps, through the hub and the memory engine
 * (which delivers synchronously, so every event lands exactly at the step chosen), and a session
 * records what it is sent.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ServerControlFrame, StreamPosition } from "@herald/protocol";
import { loadConfig } from "../../src/config/load.js";
import type { HeraldConfigInput } from "../../src/config/schema.js";
import type { HistoryQuery, HistoryResult, StreamOptions } from "../../src/engine/engine.js";
import { MemoryEngine } from "../../src/engine/memory.js";
import { openAuthorizer } from "../../src/hub/authorizer.js";
import { Hub } from "../../src/hub/hub.js";
import { Namespaces } from "../../src/hub/namespaces.js";
import type { PreparedEvent } from "../../src/hub/prepared-event.js";
import { Session } from "../../src/hub/session.js";
import { HubStats } from "../../src/hub/stats.js";

type Step = () => Promise<void>;

/** The memory engine, with steps run just before and after the hub reads a stream. */
class SteppedEngine extends MemoryEngine {
  beforeHistory: Step | undefined;
  afterHistory: Step | undefined;
  beforePosition: Step | undefined;
  afterPosition: Step | undefined;

  override async history(channel: string, query: HistoryQuery, options: StreamOptions): Promise<HistoryResult> {
    await this.beforeHistory?.();
    const result = await super.history(channel, query, options);
    await this.afterHistory?.();
    return result;
  }

  override async position(channel: string): Promise<StreamPosition> {
    await this.beforePosition?.();
    const result = await super.position(channel);
    await this.afterPosition?.();
    return result;
  }
}

type Sent = { frame: ServerControlFrame } | { offset: number };

/** A connection that records what it is sent; while `congested`, each replayed event waits on `onDrained`. */
class RecordingSession extends Session {
  readonly sent: Sent[] = [];
  congestedNow = false;
  onDrained: Step | undefined;

  constructor(id: string) {
    super(id, "websocket", "127.0.0.1", "herald");
  }

  deliver(event: PreparedEvent): void {
    this.sent.push({ offset: event.event.offset });
  }

  sendFrame(frame: ServerControlFrame): void {
    this.sent.push({ frame });
  }

  get congested(): boolean {
    return this.congestedNow;
  }

  async drained(): Promise<void> {
    await this.onDrained?.();
  }

  close(): void {
    this.closed = true;
  }

  offsets(): number[] {
    return this.sent.flatMap((sent) => ("offset" in sent ? [sent.offset] : []));
  }
}

const CHANNEL = "room:1";
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function startHub(config: HeraldConfigInput = {}): Promise<{ hub: Hub; engine: SteppedEngine; publish: (count?: number) => Promise<number[]> }> {
  const engine = new SteppedEngine();
  const hub = new Hub({
    engine,
    namespaces: new Namespaces(loadConfig({ env: {}, overrides: config })),
    authorizer: openAuthorizer,
    stats: new HubStats(),
    node: "test",
    maxSubscriptionsPerConnection: 8,
  });
  await engine.start({ onEvent: (event) => hub.dispatch(event) });
  const publish = async (count = 1): Promise<number[]> => {
    const offsets = [];
    for (let i = 0; i < count; i++) offsets.push((await hub.publish(CHANNEL, "tick", { i })).offset);
    return offsets;
  };
  return { hub, engine, publish };
}

/** What the session was sent: `subscribed` first (nothing may come before it), then the events' offsets. */
function received(session: RecordingSession): { subscribed: { offset: number; recovered: boolean }; offsets: number[] } {
  const [first, ...rest] = session.sent;
  assert.ok(first !== undefined && "frame" in first && first.frame.type === "subscribed", `the first thing sent is the subscribed frame; sent ${JSON.stringify(session.sent)}`);
  const frame = first.frame as Extract<ServerControlFrame, { type: "subscribed" }>;
  assert.deepEqual(rest.filter((sent) => "frame" in sent), [], "no other control frame");
  return { subscribed: { offset: frame.offset, recovered: frame.recovered }, offsets: session.offsets() };
}

describe("hub: events published during a recovery", () => {
  it("come after the recovered history, in offset order, each once, whenever during the recovery they were published", async () => {
    const { hub, engine, publish } = await startHub();
    await publish(5);
    const { epoch } = await engine.position(CHANNEL);
    const session = new RecordingSession("recovering");
    // Attached, history not read yet: these are in the history read and parked as live events too.
    engine.beforeHistory = async () => void (await publish(2));
    // History read: these are only parked.
    engine.afterHistory = async () => void (await publish(2));
    // While the history is sent (3..7), one more event after each one sent.
    session.congestedNow = true;
    session.onDrained = async () => void (await publish());

    await hub.subscribe(session, CHANNEL, { since: { epoch, offset: 2 } });
    engine.beforeHistory = engine.afterHistory = undefined;
    await publish(2);

    assert.deepEqual(received(session), { subscribed: { offset: 7, recovered: true }, offsets: range(3, 16) });
  });

  it("without since: only events after the subscribed offset follow it", async () => {
    const { hub, engine, publish } = await startHub();
    await publish(5);
    const session = new RecordingSession("fresh");
    engine.beforePosition = async () => void (await publish(2));
    engine.afterPosition = async () => void (await publish(1));

    await hub.subscribe(session, CHANNEL);
    engine.beforePosition = engine.afterPosition = undefined;
    await publish(1);

    assert.deepEqual(received(session), { subscribed: { offset: 7, recovered: false }, offsets: [8, 9] });
  });

  it("with since outside the history window: no old events, and no parked event at or below the subscribed offset", async () => {
    const { hub, engine, publish } = await startHub({ namespaces: { room: { history: { size: 3 } } } });
    await publish(10);
    const { epoch } = await engine.position(CHANNEL);
    const session = new RecordingSession("too-late");
    engine.beforeHistory = async () => void (await publish(1));
    engine.afterHistory = async () => void (await publish(1));

    await hub.subscribe(session, CHANNEL, { since: { epoch, offset: 2 } });
    engine.beforeHistory = engine.afterHistory = undefined;
    await publish(1);

    assert.deepEqual(received(session), { subscribed: { offset: 11, recovered: false }, offsets: [12, 13] });
  });

  it("reach a live subscriber of the channel at once, while the recovering one gets them after its history", async () => {
    const { hub, engine, publish } = await startHub();
    const live = new RecordingSession("live");
    await hub.subscribe(live, CHANNEL);
    await publish(3);
    const { epoch } = await engine.position(CHANNEL);
    const recovering = new RecordingSession("recovering");
    let seenLiveMeanwhile: number[] = [];
    engine.afterHistory = async () => {
      await publish(1);
      seenLiveMeanwhile = live.offsets();
    };

    await hub.subscribe(recovering, CHANNEL, { since: { epoch, offset: 0 } });

    assert.deepEqual(seenLiveMeanwhile, [1, 2, 3, 4], "the live subscriber is not held up by another's recovery");
    assert.deepEqual(received(recovering), { subscribed: { offset: 3, recovered: true }, offsets: [1, 2, 3, 4] });
  });

  for (const [leaving, leave] of [
    ["unsubscribes", (hub: Hub, session: Session) => hub.unsubscribe(session, CHANNEL)],
    ["closes", (hub: Hub, session: Session) => hub.removeSession(session)],
  ] as const) {
    it(`stop at once when the session ${leaving} during the recovery, and the channel is let go`, async () => {
      const { hub, engine, publish } = await startHub();
      await publish(5);
      const { epoch } = await engine.position(CHANNEL);
      const session = new RecordingSession("leaving");
      engine.afterHistory = async () => void (await publish(1));
      session.congestedNow = true;
      let left = false;
      session.onDrained = async () => {
        if (left) return;
        left = true;
        await publish(1);
        await leave(hub, session);
      };

      await hub.subscribe(session, CHANNEL, { since: { epoch, offset: 0 } });
      await publish(1);

      assert.deepEqual(received(session), { subscribed: { offset: 5, recovered: true }, offsets: [1] });
      assert.deepEqual(hub.channelList(), [], "nothing holds the channel any more");
    });
  }
});
