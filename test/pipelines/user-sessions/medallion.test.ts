import { describe, expect, it } from "vitest";
import { Pipeline } from "../../../core/pipeline.ts";
import { hours, minutes } from "../../../core/time/duration.ts";
import { TestStream } from "../../../io/test-stream/test-stream.ts";
import { sessionId } from "../../../pipelines/user-sessions/gold.ts";
import { userSessions } from "../../../pipelines/user-sessions/pipeline.ts";
import { foldSessions } from "../../../pipelines/user-sessions/sinks.ts";
import { dedupKey, dedupShard } from "../../../pipelines/user-sessions/silver.ts";
import { DirectRunner } from "../../../runners/direct/direct-runner.ts";
import { stepMetrics } from "../../../runners/direct/metrics.ts";
import type { RawMessage } from "../../../schemas/event.ts";
import type { GoldSessionRow } from "../../../schemas/rows.ts";
import { collectInto, newCollected } from "./collect.ts";

const T0 = Date.UTC(2026, 0, 1, 12);
let ids = 0;
function msg(
  offsetMs: number,
  publishOffsetMs: number,
  fields: Record<string, unknown> = {},
): { value: RawMessage; timestamp: number } {
  const event = {
    event_id: `e${ids}`,
    event_type: "page_view",
    user_id: "u1",
    tenant_id: "acme",
    event_time: new Date(T0 + offsetMs).toISOString(),
    platform: "ios",
    schema_version: 1,
    page: `/p${ids}`,
    ...fields,
  };
  const m: RawMessage = {
    messageId: `m${ids++}`,
    publishTime: T0 + publishOffsetMs,
    attributes: {},
    data: JSON.stringify(event),
  };
  return { value: m, timestamp: m.publishTime };
}

/** Runs the pipeline over a stream and applies the session writes like the warehouse does. */
async function run(stream: TestStream<RawMessage>, opts = {}) {
  const p = Pipeline.create();
  const buffer = newCollected();
  collectInto(userSessions(p, stream, { gapMs: minutes(30), allowedLatenessMs: hours(2), ...opts }), buffer);
  const metrics = await new DirectRunner().run(p);
  const gold = new Map<string, GoldSessionRow>();
  const { upserts, deletes } = foldSessions(buffer.sessions);
  for (const id of deletes) gold.delete(id);
  for (const r of upserts) gold.set(r.session_id, r);
  return { buffer, gold: [...gold.values()], metrics };
}

describe("the user-sessions medallion pipeline", () => {
  it("late mobile events that bridge two sessions leave Gold with the merged session only", async () => {
    const stream = TestStream.create<RawMessage>()
      .advanceProcessingTimeTo(T0)
      .addElements(msg(0, 0), msg(minutes(10), minutes(10))) // session A: [0, 40m)
      .addElements(msg(minutes(50), minutes(50)), msg(minutes(60), minutes(60))) // session B: [50m, 90m)
      .advanceProcessingTimeTo(T0 + minutes(61))
      .advanceWatermarkTo(T0 + minutes(100)) // both complete: on-time rows for A and B
      .addElements(msg(minutes(30), minutes(101), { platform: "android" })) // late: [30m, 60m) bridges A and B
      .advanceWatermarkToInfinity();
    const { gold, buffer } = await run(stream);
    expect(buffer.sessions.some((w) => w.kind === "delete")).toBe(true);
    expect(gold).toHaveLength(1);
    const s = gold[0] as GoldSessionRow;
    expect(s).toMatchObject({
      session_id: sessionId("acme", "u1", T0),
      session_start: T0,
      session_end: T0 + minutes(90),
      event_count: 5,
      page_views: 5,
      platforms: ["android", "ios"],
      is_final: true,
    });
    expect(buffer.silver.filter((r) => r.is_late)).toHaveLength(1);
  });

  it("writes a session's final row once, when the watermark passes its latest end plus the lateness", async () => {
    const stream = TestStream.create<RawMessage>()
      .advanceProcessingTimeTo(T0)
      .addElements(msg(0, 0))
      .advanceProcessingTimeTo(T0 + minutes(1)) // early pane: [0, 30m)
      .addElements(msg(minutes(10), minutes(10)))
      .advanceProcessingTimeTo(T0 + minutes(11)) // early pane: [0, 40m)
      .addElements(msg(minutes(20), minutes(20)))
      .advanceProcessingTimeTo(T0 + minutes(21)) // early pane: [0, 50m)
      // Past the first pane's end plus the 2 h lateness, not the session's: not final yet (on-time pane).
      .advanceWatermarkTo(T0 + minutes(30) + hours(2) + minutes(1))
      .addElements(msg(minutes(45), hours(3))) // late, still allowed: [0, 75m)
      .advanceWatermarkTo(T0 + minutes(50) + hours(2) + minutes(1))
      .advanceWatermarkToInfinity();
    const { gold, buffer } = await run(stream);
    const writes = buffer.sessions.filter((w) => w.kind === "upsert").map((w) => w.row);
    expect(writes.length).toBeGreaterThan(4);
    expect(writes.every((r) => r.session_id === sessionId("acme", "u1", T0))).toBe(true);
    expect(writes.filter((r) => r.is_final)).toHaveLength(1);
    expect(writes.at(-1)).toMatchObject({ is_final: true, event_count: 4, session_end: T0 + minutes(75) });
    expect(gold).toHaveLength(1);
  });

  it("events later than the allowed lateness are counted, not lost: they stay in Bronze and Silver", async () => {
    const stream = TestStream.create<RawMessage>()
      .advanceProcessingTimeTo(T0)
      .addElements(msg(0, 0))
      .advanceWatermarkTo(T0 + hours(5)) // [0, 30m) expired (lateness 2 h)
      .addElements(msg(minutes(5), hours(5))) // far too late for Gold
      .advanceWatermarkToInfinity();
    const { gold, buffer, metrics } = await run(stream);
    expect(buffer.bronze).toHaveLength(2);
    expect(buffer.silver).toHaveLength(2);
    expect(stepMetrics(metrics, "GoldSessions/Aggregate").droppedLate).toBe(1);
    expect(gold).toHaveLength(1);
    expect(gold[0]?.event_count).toBe(1);
  });

  it("de-duplicates an event id for the horizon of processing time after it was first seen, then counts it again", async () => {
    const first = msg(0, 0);
    const again = (publishOffsetMs: number) => ({
      value: { ...first.value, messageId: `again-${publishOffsetMs}` },
      timestamp: T0 + publishOffsetMs,
    });
    const other = msg(minutes(5), minutes(5));
    const stream = TestStream.create<RawMessage>()
      .advanceProcessingTimeTo(T0)
      .addElements(first, other)
      .advanceProcessingTimeTo(T0 + hours(1))
      .addElements(again(hours(1))) // within the 2 h horizon: dropped
      .advanceProcessingTimeTo(T0 + hours(2) - 1)
      .addElements(again(hours(2) - 1)) // still within it (first seen at T0): dropped
      .advanceProcessingTimeTo(T0 + hours(2))
      .addElements(again(hours(2))) // the horizon has passed: it counts again, and is remembered from now
      .advanceProcessingTimeTo(T0 + hours(3))
      .addElements(again(hours(3))) // within the new horizon: dropped
      .advanceProcessingTimeTo(T0 + hours(30))
      .addElements(again(hours(30))) // long after, past several sweeps: counts again
      .advanceWatermarkToInfinity();
    const { buffer } = await run(stream, { dedupHorizonMs: hours(2) });
    expect(buffer.bronze).toHaveLength(7);
    expect(buffer.silver.map((r) => [r.event_id, r.ingest_time - T0])).toEqual([
      [first.value.data.match(/"event_id":"(e\d+)"/)?.[1], 0],
      [other.value.data.match(/"event_id":"(e\d+)"/)?.[1], 0],
      [first.value.data.match(/"event_id":"(e\d+)"/)?.[1], hours(2)],
      [first.value.data.match(/"event_id":"(e\d+)"/)?.[1], hours(30)],
    ]);
  });

  it("takes a horizon that is not a whole number of sweeps (1,001 ms) and keeps its edges", async () => {
    // Two ids (of tenant acme, as every message here) of one shard, 20 ms apart: the shard's first sweep (at 1,001 ms) finds the second expiring within the
    // next 1/24 of the horizon, so it sets the next sweep 1,001 / 24 ms later, rounded up to a whole millisecond.
    const a = "dup-0";
    let n = 1;
    const shard = (id: string) => dedupShard(dedupKey("acme", id));
    while (shard(`dup-${n}`) !== shard(a)) n++;
    const b = `dup-${n}`;
    const stream = TestStream.create<RawMessage>()
      .advanceProcessingTimeTo(T0)
      .addElements(msg(0, 0, { event_id: a }))
      .advanceProcessingTimeTo(T0 + 20)
      .addElements(msg(20, 20, { event_id: b }))
      .advanceProcessingTimeTo(T0 + 1_000)
      .addElements(msg(1_000, 1_000, { event_id: a })) // within the horizon: dropped
      .advanceProcessingTimeTo(T0 + 1_001)
      .addElements(msg(1_001, 1_001, { event_id: a })) // the horizon has passed: counts again
      .advanceProcessingTimeTo(T0 + 1_020)
      .addElements(msg(1_020, 1_020, { event_id: b })) // still within b's horizon: dropped
      .advanceProcessingTimeTo(T0 + 1_021)
      .addElements(msg(1_021, 1_021, { event_id: b })) // b's horizon has passed: counts again
      .advanceProcessingTimeTo(T0 + 60_000)
      .addElements(msg(60_000, 60_000, { event_id: a })) // long after, past many sweeps: counts again
      .advanceWatermarkToInfinity();
    const { buffer } = await run(stream, { dedupHorizonMs: 1_001 });
    expect(buffer.silver.map((r) => [r.event_id, r.ingest_time - T0])).toEqual([
      [a, 0],
      [b, 20],
      [a, 1_001],
      [b, 1_021],
      [a, 60_000],
    ]);
  });

  it("a re-delivered message counts once; malformed payloads are kept in Bronze and dead-lettered with the reason", async () => {
    const first = msg(0, 0);
    const redelivered = { ...first, value: { ...first.value, messageId: "again" }, timestamp: first.timestamp + 1 };
    const bad = (data: string, i: number) => ({
      value: { messageId: `bad${i}`, publishTime: T0 + i, attributes: {}, data },
      timestamp: T0 + i,
    });
    const stream = TestStream.create<RawMessage>()
      .addElements(first, redelivered, bad("{not json", 1), bad(JSON.stringify({ event_id: "x" }), 2))
      .addElements(msg(1_000, 1_000, { event_type: "teleport" }), msg(2_000, 2_000, { platform: "tv" }))
      .addElements(bad("x".repeat(70 * 1024), 3))
      .addElements(msg(3_000, 3_000, { user_id: "u\ud800" })) // a lone surrogate: no UTF-8 form
      .advanceWatermarkToInfinity();
    const { buffer } = await run(stream);
    expect(buffer.bronze).toHaveLength(8);
    expect(buffer.silver.map((r) => r.event_id)).toEqual([first.value.data.match(/"event_id":"(e\d+)"/)?.[1]]);
    expect(buffer.deadLetter.map((d) => `${d.error.field}: ${d.error.reason}`).sort()).toEqual([
      "event_type: is missing",
      'event_type: is not a known event type: "teleport" (known: page_view, button_click, purchase, user_signup, session_start, app_background, order, inventory, user_activity)',
      "payload: is larger than 65536 bytes (71680)",
      expect.stringMatching(/^payload: is not JSON/),
      'platform: must be one of web, ios, android, got "tv"',
      'user_id: is not valid Unicode (a lone surrogate): "u\\ud800"',
    ]);
    const invalid = buffer.bronze.filter((r) => !r.valid);
    expect(invalid.map((r) => r.payload)).toContain("{not json");
  });
});
