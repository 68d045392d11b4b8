import { describe, expect, it } from "vitest";
import type { KV } from "../../core/kv.ts";
import { Pipeline } from "../../core/pipeline.ts";
import { minutes, seconds } from "../../core/time/duration.ts";
import { IntervalWindow } from "../../core/windows/window.ts";
import { readFixtureStream } from "../../io/test-stream/jsonl.ts";
import { TestStream } from "../../io/test-stream/test-stream.ts";
import { type PageView, type SessionSummary, userSessions } from "../../pipelines/sessions/user-sessions.ts";
import { DirectRunner } from "../../runners/direct/direct-runner.ts";
import { stepMetrics } from "../../runners/direct/metrics.ts";
import { assertThat } from "../../transforms/passert.ts";
import { read } from "../../transforms/read.ts";

const T0 = Date.UTC(2026, 0, 1);
const view = (user: string, page: string, offsetMs: number) => ({
  value: { user, page, eventTime: T0 + offsetMs },
  timestamp: T0 + offsetMs,
});

describe("pipelines/sessions: per-user sessions with early, on-time and late panes", () => {
  it("a late view merges two sessions; the merged session's panes hold the whole session (accumulating)", async () => {
    const stream = TestStream.create<PageView>()
      .advanceProcessingTimeTo(T0)
      .addElements(view("ann", "/", 0), view("ann", "/pricing", minutes(40)))
      .advanceWatermarkTo(T0 + minutes(35)) // [0, 30m) is complete: its on-time pane fires
      .addElements(view("ann", "/docs", minutes(20))) // late, within lateness: bridges [0,30m) and [40m,70m)
      .advanceWatermarkToInfinity();
    const p = Pipeline.create();
    const out = assertThat(
      p.apply(read(stream)).apply(userSessions({ gapMs: minutes(30), allowedLatenessMs: minutes(60) })),
    );
    await new DirectRunner().run(p);
    const first = new IntervalWindow(T0, T0 + minutes(30));
    const merged = new IntervalWindow(T0, T0 + minutes(70));
    const onTime = out.inOnTimePane(first).single() as KV<string, SessionSummary>;
    expect(onTime[1]).toMatchObject({ events: 1, entryPage: "/", exitPage: "/" });
    const final = out.inFinalPane(merged).single() as KV<string, SessionSummary>;
    expect(final[1]).toMatchObject({
      events: 3,
      entryPage: "/",
      exitPage: "/pricing",
      first: T0,
      last: T0 + minutes(40),
    });
  });

  it("early panes show a running session after the processing-time delay", async () => {
    const stream = TestStream.create<PageView>()
      .advanceProcessingTimeTo(T0)
      .addElements(view("bo", "/", 0))
      .advanceProcessingTimeTo(T0 + seconds(31))
      .addElements(view("bo", "/signup", seconds(20)))
      .advanceWatermarkToInfinity();
    const p = Pipeline.create();
    const out = assertThat(p.apply(read(stream)).apply(userSessions({ earlyFiringDelayMs: seconds(30) })));
    await new DirectRunner().run(p);
    const early = out.all().filter((e) => e.pane.timing === "EARLY");
    expect(early).toHaveLength(1);
    const [first] = early;
    expect(first && (first.value as KV<string, SessionSummary>)[1].events).toBe(1);
  });

  it("the shipped fixture: every view is accounted for, one is dropped as too late and reported", async () => {
    const p = Pipeline.create();
    // Discarding panes: each accepted view is in exactly one pane, so the panes add up to the views.
    const out = assertThat(
      p
        .apply(read(readFixtureStream<PageView>("test/fixtures/user-events.jsonl"), "Read"))
        .apply(userSessions({ gapMs: minutes(30), allowedLatenessMs: minutes(30), accumulation: "discarding" })),
    );
    const metrics = await new DirectRunner().run(p);
    const summarize = stepMetrics(metrics, "UserSessions/Summarize");
    expect(stepMetrics(metrics, "Read").elementsOut).toBe(86);
    expect(summarize.droppedLate).toBe(1);
    const counted = out.all().reduce((n, e) => n + ((e.value as KV<string, SessionSummary>)[1]?.events ?? 0), 0);
    expect(counted).toBe(85);
    expect(out.all().some((e) => e.pane.timing === "EARLY")).toBe(true);
    expect(out.all().some((e) => e.pane.timing === "ON_TIME")).toBe(true);
  });
});
