import { describe, expect, it } from "vitest";
import { afterProcessingTime, repeatedly } from "../../../../core/triggers/trigger.ts";
import { fixed, globalWindows, sessions } from "../../../../core/windows/window-fn.ts";
import { pane, reduceHarness } from "./harness.ts";

describe("ReduceRunner: afterProcessingTime with the processing clock", () => {
  it("fires only once the clock is strictly past arrival + delay, then finishes", () => {
    const h = reduceHarness({ windowing: fixed(10), allowedLatenessMs: 100, trigger: afterProcessingTime(10) });
    h.advanceProcessingTime(1_000);
    h.element(1); // arrives at 1000: deadline 1010
    h.advanceProcessingTime(1_009);
    expect(h.fired()).toEqual([]);
    h.advanceProcessingTime(1_010);
    expect(h.fired()).toEqual([]);
    h.advanceProcessingTime(1_011);
    expect(h.fired()).toEqual([pane("[0,10)", "EARLY", 0, { values: [1], isLast: true, timestamp: 9 })]);
    h.element(2);
    expect(h.counters.droppedClosed).toBe(1);
    h.advanceProcessingTime(5_000);
    h.advanceWatermark(200);
    expect(h.fired()).toEqual([]);
  });

  it("an aligned deadline is rounded up to the next multiple of the period (already aligned stays)", () => {
    const h = reduceHarness({ windowing: fixed(100), trigger: repeatedly(afterProcessingTime(0, { toMs: 10 })) });
    h.advanceProcessingTime(1_003);
    h.element(1); // deadline 1010
    h.advanceProcessingTime(1_010);
    expect(h.fired()).toEqual([]);
    h.advanceProcessingTime(1_011);
    expect(h.fired()).toEqual([pane("[0,100)", "EARLY", 0, { values: [1] })]);
    h.advanceProcessingTime(1_020);
    h.element(2); // arrives at 1020, already aligned: deadline 1020
    h.advanceProcessingTime(1_021);
    expect(h.fired()).toEqual([pane("[0,100)", "EARLY", 1, { values: [2] })]);
  });

  it("alignment with an offset", () => {
    const h = reduceHarness({ windowing: fixed(100), trigger: afterProcessingTime(2, { toMs: 10, offsetMs: 5 }) });
    h.advanceProcessingTime(1_000);
    h.element(1); // 1000 + 2 = 1002, aligned to 5 + 10k: 1005
    h.advanceProcessingTime(1_005);
    expect(h.fired()).toEqual([]);
    h.advanceProcessingTime(1_006);
    expect(h.fired()).toEqual([pane("[0,100)", "EARLY", 0, { values: [1], isLast: true })]);
  });

  it("the delay counts from the first element of the pane, not the last", () => {
    const h = reduceHarness({ windowing: fixed(10), trigger: afterProcessingTime(10) });
    h.advanceProcessingTime(1_000);
    h.element(1);
    h.advanceProcessingTime(1_008);
    h.element(2);
    h.advanceProcessingTime(1_011);
    expect(h.fired()).toEqual([pane("[0,10)", "EARLY", 0, { values: [1, 2] })]);
  });

  it("a clock jump past several deadlines fires each window once", () => {
    const h = reduceHarness({ windowing: fixed(10), trigger: afterProcessingTime(5) });
    h.advanceProcessingTime(0);
    h.bundle(1, 11);
    h.advanceProcessingTime(2);
    h.element(21);
    h.advanceProcessingTime(100);
    expect(h.fired()).toEqual([
      pane("[0,10)", "EARLY", 0, { values: [1] }),
      pane("[10,20)", "EARLY", 0, { values: [11] }),
      pane("[20,30)", "EARLY", 0, { values: [21] }),
    ]);
  });

  it("repeatedly re-arms with the next element's arrival", () => {
    const h = reduceHarness({ windowing: globalWindows(), trigger: repeatedly(afterProcessingTime(10)) });
    h.advanceProcessingTime(0);
    h.element(1);
    h.advanceProcessingTime(11);
    expect(h.fired()).toEqual([pane("global", "EARLY", 0, { values: [1] })]);
    h.advanceProcessingTime(50);
    expect(h.fired()).toEqual([]);
    h.element(2); // arrives at 50: deadline 60
    h.advanceProcessingTime(60);
    expect(h.fired()).toEqual([]);
    h.advanceProcessingTime(61);
    expect(h.fired()).toEqual([pane("global", "EARLY", 1, { values: [2] })]);
  });

  it("processing-time timers of an expired window are ignored; its data comes out in the expiry pane", () => {
    const h = reduceHarness({ windowing: fixed(10), trigger: afterProcessingTime(10) });
    h.advanceProcessingTime(1_000);
    h.element(1);
    h.advanceWatermark(10);
    expect(h.fired()).toEqual([pane("[0,10)", "ON_TIME", 0, { values: [1], isLast: true })]);
    h.advanceProcessingTime(2_000);
    expect(h.fired()).toEqual([]);
  });

  it("merging sessions keep the earliest deadline", () => {
    const h = reduceHarness({ windowing: sessions(10), trigger: afterProcessingTime(10) });
    h.advanceProcessingTime(0);
    h.element(1); // deadline 10
    h.advanceProcessingTime(5);
    h.element(20); // deadline 15, its own session
    h.element(8); // [8,18) joins [1,11) to [1,18) only; deadline stays 10
    h.advanceProcessingTime(11);
    expect(h.fired()).toEqual([pane("[1,18)", "EARLY", 0, { values: [1, 8], isLast: true })]);
    h.advanceProcessingTime(16);
    expect(h.fired()).toEqual([pane("[20,30)", "EARLY", 0, { values: [20] })]);
  });
});
