import { describe, expect, it } from "vitest";
import { afterCount, afterWatermark } from "../../../../core/triggers/trigger.ts";
import type { TimestampCombiner } from "../../../../core/windowing-strategy.ts";
import { fixed, sessions } from "../../../../core/windows/window-fn.ts";
import { pane, reduceHarness } from "./harness.ts";

describe.each<[TimestampCombiner, number]>([
  ["endOfWindow", 9],
  ["earliest", 3],
  ["latest", 5],
])("ReduceRunner: timestamp combiner %s", (timestampCombiner, onTime) => {
  it(`the on-time pane is at ${onTime}; late panes are at end - 1`, () => {
    const h = reduceHarness({ windowing: fixed(10), allowedLatenessMs: 100, timestampCombiner });
    h.bundle(5, 3);
    h.advanceWatermark(10);
    expect(h.fired()).toEqual([pane("[0,10)", "ON_TIME", 0, { timestamp: onTime })]);
    h.element(4);
    expect(h.fired()).toEqual([pane("[0,10)", "LATE", 1, { timestamp: 9 })]);
  });

  it("the hold keeps the output watermark at the pane's timestamp until it fires", () => {
    const h = reduceHarness({ windowing: fixed(10), timestampCombiner });
    h.bundle(5, 3);
    h.advanceWatermark(8);
    expect(h.runner.outputWatermark).toBe(Math.min(8, onTime));
    h.advanceWatermark(10);
    expect(h.runner.outputWatermark).toBe(10);
    expect(h.runner.earliestHold()).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("ReduceRunner: timestamp combiners in detail", () => {
  it("earliest ignores elements that arrived behind the output watermark (known_late_data_watermark)", () => {
    const h = reduceHarness({ windowing: fixed(10), allowedLatenessMs: 100, timestampCombiner: "earliest" });
    h.advanceWatermark(4);
    h.bundle(2, 7); // 2 is behind the output watermark 4: it places no hold
    h.advanceWatermark(10);
    expect(h.fired()).toEqual([pane("[0,10)", "ON_TIME", 0, { values: [2, 7], timestamp: 7 })]);
  });

  it("an on-time pane after an early one reflects only the elements since", () => {
    const h = reduceHarness({
      windowing: fixed(10),
      timestampCombiner: "earliest",
      trigger: afterWatermark({ early: afterCount(2) }),
    });
    h.bundle(5, 3);
    expect(h.fired()).toEqual([pane("[0,10)", "EARLY", 0, { timestamp: 3 })]);
    h.element(8);
    h.advanceWatermark(10);
    expect(h.fired()).toEqual([pane("[0,10)", "ON_TIME", 1, { values: [8], timestamp: 8 })]);
  });

  it.each<[TimestampCombiner, number]>([
    ["earliest", 1],
    ["latest", 8],
    ["endOfWindow", 17],
  ])("merged sessions combine their parts' holds (%s: %i)", (timestampCombiner, ts) => {
    const h = reduceHarness({ windowing: sessions(10), timestampCombiner });
    h.element(8);
    h.element(1); // [1,11) and [8,18) merge into [1,18)
    h.advanceWatermark(18);
    expect(h.fired()).toEqual([pane("[1,18)", "ON_TIME", 0, { values: [1, 8], timestamp: ts })]);
  });
});
