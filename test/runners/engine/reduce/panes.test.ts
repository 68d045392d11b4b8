import { describe, expect, it } from "vitest";
import {
  afterCount,
  afterProcessingTime,
  afterWatermark,
  never,
  repeatedly,
} from "../../../../core/triggers/trigger.ts";
import type { AccumulationMode } from "../../../../core/windowing-strategy.ts";
import { fixed, globalWindows } from "../../../../core/windows/window-fn.ts";
import { sumFn } from "../../../../transforms/combine.ts";
import { pane, reduceHarness } from "./harness.ts";

describe.each<[AccumulationMode, (all: number[], fresh: number[]) => number[]]>([
  ["discarding", (_all, fresh) => fresh],
  ["accumulating", (all) => all],
])("ReduceRunner: early, on-time and late panes (%s)", (accumulation, values) => {
  it("afterWatermark({ early: afterCount(2), late: afterCount(1) })", () => {
    const h = reduceHarness({
      windowing: fixed(10),
      allowedLatenessMs: 100,
      accumulation,
      trigger: afterWatermark({ early: afterCount(2), late: afterCount(1) }),
    });
    h.bundle(1, 2);
    expect(h.fired()).toEqual([
      pane("[0,10)", "EARLY", 0, {
        values: [1, 2],
        nonSpeculativeIndex: -1,
        isFirst: true,
        isLast: false,
        timestamp: 9,
      }),
    ]);
    h.element(3);
    expect(h.fired()).toEqual([]);
    h.advanceWatermark(9);
    expect(h.fired()).toEqual([]);
    h.advanceWatermark(10);
    expect(h.fired()).toEqual([
      pane("[0,10)", "ON_TIME", 1, { values: values([1, 2, 3], [3]), nonSpeculativeIndex: 0, isLast: false }),
    ]);
    h.element(4);
    expect(h.fired()).toEqual([
      pane("[0,10)", "LATE", 2, { values: values([1, 2, 3, 4], [4]), nonSpeculativeIndex: 1, timestamp: 9 }),
    ]);
    h.bundle(5, 6);
    expect(h.fired()).toEqual([pane("[0,10)", "LATE", 3, { values: values([1, 2, 3, 4, 5, 6], [5, 6]) })]);
    h.advanceWatermark(110); // expiry with nothing new: no final pane
    expect(h.fired()).toEqual([]);
    expect(h.windowCount()).toBe(0);
  });

  it("afterWatermark({ early: afterProcessingTime(5), late: afterCount(1) })", () => {
    const h = reduceHarness({
      windowing: fixed(10),
      allowedLatenessMs: 100,
      accumulation,
      trigger: afterWatermark({ early: afterProcessingTime(5), late: afterCount(1) }),
    });
    h.advanceProcessingTime(100);
    h.element(1); // early deadline 105
    h.advanceProcessingTime(105);
    expect(h.fired()).toEqual([]);
    h.advanceProcessingTime(106);
    expect(h.fired()).toEqual([pane("[0,10)", "EARLY", 0, { values: [1] })]);
    h.advanceProcessingTime(120);
    expect(h.fired()).toEqual([]); // the early trigger restarts only with the next element
    h.element(2); // early deadline 125
    h.advanceWatermark(10);
    expect(h.fired()).toEqual([pane("[0,10)", "ON_TIME", 1, { values: values([1, 2], [2]) })]);
    h.advanceProcessingTime(200); // the on-time pane ended the early phase: its deadline is void
    expect(h.fired()).toEqual([]);
    h.element(7);
    expect(h.fired()).toEqual([pane("[0,10)", "LATE", 2, { values: values([1, 2, 7], [7]) })]);
  });

  it("an on-time pane with nothing new is still emitted; a final pane with nothing new is not", () => {
    const h = reduceHarness({
      windowing: fixed(10),
      allowedLatenessMs: 100,
      accumulation,
      trigger: afterWatermark({ early: afterCount(1), late: afterCount(1) }),
    });
    h.element(1);
    expect(h.fired()).toEqual([pane("[0,10)", "EARLY", 0, { values: [1] })]);
    h.advanceWatermark(10);
    expect(h.fired()).toEqual([pane("[0,10)", "ON_TIME", 1, { values: values([1], []) })]);
    h.advanceWatermark(500);
    expect(h.fired()).toEqual([]);
  });

  it("a combining grouping emits the CombineFn's output per pane", () => {
    const h = reduceHarness({
      windowing: fixed(10),
      allowedLatenessMs: 100,
      accumulation,
      combineFn: sumFn as never,
      trigger: afterWatermark({ early: afterCount(2), late: afterCount(1) }),
    });
    h.bundle(1, 2);
    h.element(3);
    h.advanceWatermark(10);
    h.element(4);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    expect(h.fired()).toEqual([
      pane("[0,10)", "EARLY", 0, { values: 3 }),
      pane("[0,10)", "ON_TIME", 1, { values: sum(values([1, 2, 3], [3])) }),
      pane("[0,10)", "LATE", 2, { values: sum(values([1, 2, 3, 4], [4])) }),
    ]);
  });
});

describe("ReduceRunner: trigger firing", () => {
  it("one bundle is one firing: afterCount(2) fed three elements at once fires one pane of three", () => {
    const h = reduceHarness({ windowing: fixed(10), trigger: afterCount(2) });
    h.bundle(1, 2, 3);
    expect(h.fired()).toEqual([pane("[0,10)", "EARLY", 0, { values: [1, 2, 3], isLast: true })]);
  });

  it("repeatedly(afterCount(2)) fires every two elements, never finishes, and ends with the on-time pane", () => {
    const h = reduceHarness({ windowing: fixed(100), trigger: repeatedly(afterCount(2)) });
    h.bundle(1, 2);
    expect(h.fired()).toEqual([pane("[0,100)", "EARLY", 0, { values: [1, 2], isLast: false })]);
    h.element(3);
    expect(h.fired()).toEqual([]);
    h.element(4);
    expect(h.fired()).toEqual([pane("[0,100)", "EARLY", 1, { values: [3, 4] })]);
    h.bundle(5, 6, 7);
    expect(h.fired()).toEqual([pane("[0,100)", "EARLY", 2, { values: [5, 6, 7] })]);
    h.element(8);
    h.advanceWatermark(100); // expiry at once: the on-time pane is final and holds the pending element
    expect(h.fired()).toEqual([pane("[0,100)", "ON_TIME", 3, { values: [8], isLast: true, nonSpeculativeIndex: 0 })]);
    expect(h.windowCount()).toBe(0);
  });

  it("repeatedly(afterCount(1)) in the global window fires per bundle, and at end of input emits the on-time pane", () => {
    const h = reduceHarness({ windowing: globalWindows(), trigger: repeatedly(afterCount(1)) });
    h.element(5);
    h.bundle(6, 7);
    expect(h.fired()).toEqual([
      pane("global", "EARLY", 0, { values: [5] }),
      pane("global", "EARLY", 1, { values: [6, 7] }),
    ]);
    h.advanceWatermark(Number.MAX_SAFE_INTEGER);
    expect(h.fired()).toEqual([pane("global", "ON_TIME", 2, { values: [], isLast: true })]);
  });

  it("never fires only in the expiry pane, which is ON_TIME when end and expiry pass at once", () => {
    const h = reduceHarness({ windowing: fixed(10), trigger: never() });
    h.bundle(1, 2);
    h.advanceWatermark(9);
    expect(h.fired()).toEqual([]);
    h.advanceWatermark(10);
    expect(h.fired()).toEqual([pane("[0,10)", "ON_TIME", 0, { values: [1, 2], isLast: true })]);
  });

  it("late: never keeps the window open; late data comes out in the expiry pane", () => {
    const h = reduceHarness({
      windowing: fixed(10),
      allowedLatenessMs: 50,
      trigger: afterWatermark({ late: never() }),
    });
    h.element(1);
    h.advanceWatermark(10);
    expect(h.fired()).toEqual([pane("[0,10)", "ON_TIME", 0, { values: [1], isLast: false })]);
    h.bundle(2, 3);
    expect(h.fired()).toEqual([]);
    expect(h.counters.droppedClosed).toBe(0);
    h.advanceWatermark(60);
    expect(h.fired()).toEqual([pane("[0,10)", "LATE", 1, { values: [2, 3], isLast: true })]);
  });

  it("afterWatermark() without late firings closes at the on-time pane; later data is dropped as closed", () => {
    const h = reduceHarness({ windowing: fixed(10), allowedLatenessMs: 50, trigger: afterWatermark() });
    h.element(1);
    h.advanceWatermark(10);
    expect(h.fired()).toEqual([pane("[0,10)", "ON_TIME", 0, { values: [1], isLast: true })]);
    h.element(2);
    expect(h.fired()).toEqual([]);
    expect(h.counters.droppedClosed).toBe(1);
  });

  it("each window of a sliding window function fires on its own", () => {
    const h = reduceHarness({ windowing: { kind: "sliding", sizeMs: 10, periodMs: 5, offsetMs: 0 } });
    h.bundle(3, 7);
    h.advanceWatermark(10);
    expect(h.fired()).toEqual([
      pane("[-5,5)", "ON_TIME", 0, { values: [3] }),
      pane("[0,10)", "ON_TIME", 0, { values: [3, 7] }),
    ]);
    h.advanceWatermark(15);
    expect(h.fired()).toEqual([pane("[5,15)", "ON_TIME", 0, { values: [7] })]);
  });
});

describe("ReduceRunner: closing and on-time behaviour", () => {
  it('closingBehavior "fireAlways" emits the final pane at expiry even with nothing new', () => {
    const h = reduceHarness({
      windowing: fixed(10),
      allowedLatenessMs: 50,
      trigger: afterWatermark({ late: afterCount(1) }),
      closingBehavior: "fireAlways",
    });
    h.element(1);
    h.advanceWatermark(10);
    expect(h.fired()).toEqual([pane("[0,10)", "ON_TIME", 0, { values: [1], isLast: false })]);
    h.advanceWatermark(60);
    expect(h.fired()).toEqual([pane("[0,10)", "LATE", 1, { values: [], isLast: true, timestamp: 9 })]);
  });

  it('the default closingBehavior "fireIfNonEmpty" skips it', () => {
    const h = reduceHarness({
      windowing: fixed(10),
      allowedLatenessMs: 50,
      trigger: afterWatermark({ late: afterCount(1) }),
    });
    h.element(1);
    h.advanceWatermark(60);
    expect(h.fired()).toEqual([pane("[0,10)", "ON_TIME", 0, { values: [1], isLast: true })]);
    const g = reduceHarness({
      windowing: fixed(10),
      allowedLatenessMs: 50,
      trigger: afterWatermark({ late: afterCount(1) }),
    });
    g.element(1);
    g.advanceWatermark(10);
    g.advanceWatermark(60);
    expect(g.fired()).toEqual([pane("[0,10)", "ON_TIME", 0, { isLast: false })]);
  });

  it('onTimeBehavior "fireIfNonEmpty" skips an empty on-time pane, and the skipped pane takes no index', () => {
    const h = reduceHarness({
      windowing: fixed(10),
      allowedLatenessMs: 50,
      trigger: afterWatermark({ early: afterCount(1), late: afterCount(1) }),
      onTimeBehavior: "fireIfNonEmpty",
    });
    h.element(1);
    h.advanceWatermark(10);
    expect(h.fired()).toEqual([pane("[0,10)", "EARLY", 0, { values: [1] })]);
    h.element(2);
    expect(h.fired()).toEqual([pane("[0,10)", "LATE", 1, { values: [2], nonSpeculativeIndex: 0 })]);
  });
});
