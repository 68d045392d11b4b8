import { describe, expect, it } from "vitest";
import type { KV } from "../../../core/kv.ts";
import { Pipeline } from "../../../core/pipeline.ts";
import { MAX_TIMESTAMP } from "../../../core/time/instant.ts";
import { fixed } from "../../../core/windows/window-fn.ts";
import { TestStream } from "../../../io/test-stream/test-stream.ts";
import { DirectRunner } from "../../../runners/direct/direct-runner.ts";
import { type MetricsSnapshot, type StepMetrics, stepMetrics } from "../../../runners/direct/metrics.ts";
import { filter, map } from "../../../transforms/element-wise.ts";
import { groupByKey } from "../../../transforms/group-by-key.ts";
import { read } from "../../../transforms/read.ts";
import { window } from "../../../transforms/window-into.ts";

/** Keyed events: two on time in [0,10), then the watermark passes 10, then one late (dropped: no lateness). */
function pipeline(allowedLatenessMs = 0) {
  const stream = TestStream.create<KV<string, number>>("Events")
    .addElements(
      { value: ["a", 1], timestamp: 1 },
      { value: ["b", 2], timestamp: 2 },
      { value: ["a", -1], timestamp: 3 },
    )
    .advanceWatermarkTo(10)
    .addElements({ value: ["a", 4], timestamp: 4 })
    .advanceWatermarkTo(25)
    .addElements({ value: ["c", 5], timestamp: 30 });
  const p = Pipeline.create();
  p.apply(read(stream), "Read")
    .apply(filter(([, v]: KV<string, number>) => v >= 0, "Positive"))
    .apply(window(fixed(10), { allowedLatenessMs }), "Window")
    .apply(groupByKey<string, number>(), "Group")
    .apply(map(([k, vs]: KV<string, number[]>) => `${k}:${vs.length}`, "Format"));
  return p;
}

describe("DirectRunner: metrics", () => {
  it("counts elements in and out per step", async () => {
    const m = await new DirectRunner().run(pipeline());
    expect(stepMetrics(m, "Read")).toMatchObject({ kind: "read", elementsOut: 5 });
    expect(stepMetrics(m, "Positive")).toMatchObject({ kind: "parDo", elementsIn: 5, elementsOut: 4 });
    expect(stepMetrics(m, "Window")).toMatchObject({ kind: "windowInto", elementsIn: 4, elementsOut: 4 });
    // a, b on time in [0,10); the late a@4 is dropped; c in [30,40)
    expect(stepMetrics(m, "Group")).toMatchObject({ kind: "groupByKey", elementsIn: 4, elementsOut: 3 });
    expect(stepMetrics(m, "Format")).toMatchObject({ elementsIn: 3, elementsOut: 3 });
    expect(m.sourceEvents).toBe(6); // five events and the end of the stream
  });

  it("counts data beyond the allowed lateness as droppedLate", async () => {
    const m = await new DirectRunner().run(pipeline());
    expect(stepMetrics(m, "Group")).toMatchObject({ droppedLate: 1, droppedClosed: 0 });
  });

  it("does not drop data within the allowed lateness", async () => {
    const m = await new DirectRunner().run(pipeline(100));
    expect(stepMetrics(m, "Group")).toMatchObject({ droppedLate: 0, elementsIn: 4, elementsOut: 4 });
  });

  it("reports +infinity watermarks and no open windows at the end of bounded input", async () => {
    const m = await new DirectRunner().run(pipeline());
    for (const s of m.steps) {
      expect(s.inputWatermark, s.step).toBe(MAX_TIMESTAMP);
      expect(s.outputWatermark, s.step).toBe(MAX_TIMESTAMP);
    }
    expect(stepMetrics(m, "Group").windows).toBe(0);
  });

  it("are readable while running, from onStep", async () => {
    const seen: { event: string; group: StepMetrics; read: StepMetrics }[] = [];
    const running = new DirectRunner().start(pipeline(), {
      onStep: ({ event }) => {
        const snap: MetricsSnapshot = running.metrics();
        seen.push({ event, group: stepMetrics(snap, "Group"), read: stepMetrics(snap, "Read") });
      },
    });
    await running.waitUntilFinish();
    expect(seen.map((s) => s.event)).toEqual(["elements", "watermark", "elements", "watermark", "elements", "end"]);
    const [first, second, third, fourth, , last] = seen;
    expect(first?.group).toMatchObject({
      elementsIn: 2,
      elementsOut: 0,
      windows: 2,
      inputWatermark: Number.NEGATIVE_INFINITY,
    });
    expect(second?.read.outputWatermark).toBe(10);
    expect(second?.group).toMatchObject({ inputWatermark: 10, outputWatermark: 10, elementsOut: 2, windows: 0 });
    expect(third?.group).toMatchObject({ droppedLate: 1, elementsIn: 3 });
    expect(fourth?.group).toMatchObject({ inputWatermark: 25, outputWatermark: 25 });
    expect(last?.group).toMatchObject({ inputWatermark: MAX_TIMESTAMP, elementsOut: 3, windows: 0 });
  });

  it("are readable as soon as the run starts, before any source event", async () => {
    const running = new DirectRunner().start(pipeline());
    const first = running.metrics();
    expect(first.sourceEvents).toBe(0);
    expect(stepMetrics(first, "Group")).toMatchObject({ elementsIn: 0, inputWatermark: Number.NEGATIVE_INFINITY });
    const last = await running.waitUntilFinish();
    expect(last.sourceEvents).toBe(6);
    expect(running.metrics()).toEqual(last);
  });

  it("the output watermark of a grouping is held by windows that have not fired", async () => {
    const stream = TestStream.create<KV<string, number>>()
      .addElements({ value: ["a", 1], timestamp: 1 })
      .advanceWatermarkTo(8)
      .advanceWatermarkTo(12);
    const p = Pipeline.create();
    p.apply(read(stream))
      .apply(window(fixed(10), { timestampCombiner: "earliest" }))
      .apply(groupByKey<string, number>(), "Group");
    const outs: number[] = [];
    const running = new DirectRunner().start(p, {
      onStep: ({ event }) => {
        if (event === "watermark") outs.push(stepMetrics(running.metrics(), "Group").outputWatermark);
      },
    });
    await running.waitUntilFinish();
    expect(outs).toEqual([1, 12]);
  });

  it("stepMetrics throws for an unknown step, listing the steps", async () => {
    const m = await new DirectRunner().run(pipeline());
    expect(() => stepMetrics(m, "Nope")).toThrow(
      /^no step named "Nope"; steps: Read, Positive, Window, Group, Format$/,
    );
  });
});
