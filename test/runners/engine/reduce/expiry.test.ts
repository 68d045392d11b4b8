import { describe, expect, it } from "vitest";
import {
  afterCount,
  afterProcessingTime,
  afterWatermark,
  defaultTrigger,
  repeatedly,
} from "../../../../core/triggers/trigger.ts";
import { fixed, globalWindows, sessions, sliding, type WindowFn } from "../../../../core/windows/window-fn.ts";
import { pane, reduceHarness } from "./harness.ts";

describe("ReduceRunner: closed windows", () => {
  it("afterCount(2) closes its window; later data within lateness is dropped and counted as closed", () => {
    const h = reduceHarness({ windowing: fixed(10), allowedLatenessMs: 50, trigger: afterCount(2) });
    h.bundle(1, 2);
    expect(h.fired()).toEqual([pane("[0,10)", "EARLY", 0, { values: [1, 2], isLast: true, nonSpeculativeIndex: -1 })]);
    h.element(3);
    h.advanceWatermark(10);
    h.element(4);
    expect(h.fired()).toEqual([]);
    expect(h.counters.droppedClosed).toBe(2);
    expect(h.counters.droppedExpired).toBe(0);
    expect(h.windowCount()).toBe(1); // kept, closed, until it expires
    h.advanceWatermark(59);
    expect(h.windowCount()).toBe(1);
    h.advanceWatermark(60);
    expect(h.windowCount()).toBe(0);
    h.element(5);
    expect(h.counters.droppedExpired).toBe(1);
    expect(h.fired()).toEqual([]);
  });

  it("other windows of the key stay open", () => {
    const h = reduceHarness({ windowing: fixed(10), allowedLatenessMs: 50, trigger: afterCount(2) });
    h.bundle(1, 2, 11);
    h.element(12);
    expect(h.fired()).toEqual([
      pane("[0,10)", "EARLY", 0, { values: [1, 2], isLast: true }),
      pane("[10,20)", "EARLY", 0, { values: [11, 12], isLast: true }),
    ]);
  });
});

describe("ReduceRunner: expiry", () => {
  it("at the expiry an open window emits one final pane with its new data", () => {
    const h = reduceHarness({ windowing: fixed(10), allowedLatenessMs: 20, trigger: afterCount(5) });
    h.bundle(1, 2);
    h.advanceWatermark(29);
    expect(h.fired()).toEqual([]);
    expect(h.runner.outputWatermark).toBe(9); // held at the end of the window by the unfired elements
    h.advanceWatermark(30);
    // The output watermark had not passed the window, so this first non-early pane is ON_TIME.
    expect(h.fired()).toEqual([pane("[0,10)", "ON_TIME", 0, { values: [1, 2], isLast: true, timestamp: 9 })]);
    expect(h.runner.outputWatermark).toBe(30);
  });

  it("data behind the watermark by more than the allowed lateness is dropped as expired", () => {
    const h = reduceHarness({ windowing: fixed(10), allowedLatenessMs: 100 });
    h.advanceWatermark(109);
    h.element(2); // 9 + 100 = 109 is not before 109: kept
    expect(h.fired()).toEqual([pane("[0,10)", "LATE", 0, { values: [2] })]);
    h.advanceWatermark(110);
    h.element(3);
    expect(h.counters.droppedExpired).toBe(1);
    expect(h.fired()).toEqual([]);
  });

  it("an element in several sliding windows is dropped only from the expired ones", () => {
    const h = reduceHarness({ windowing: sliding(10, 5) });
    h.advanceWatermark(10);
    h.element(7); // [0,10) expired, [5,15) not
    expect(h.counters.droppedExpired).toBe(1);
    h.advanceWatermark(15);
    expect(h.fired()).toEqual([pane("[5,15)", "ON_TIME", 0, { values: [7] })]);
  });
});

describe("ReduceRunner: memory", () => {
  const cases: [string, WindowFn, Parameters<typeof reduceHarness>[0]["trigger"], boolean?][] = [
    ["fixed, default trigger", fixed(10), defaultTrigger()],
    ["fixed, afterCount(2) (closed windows)", fixed(10), afterCount(2)],
    ["sliding, early and late firings", sliding(10, 5), afterWatermark({ early: afterCount(1), late: afterCount(1) })],
    ["sessions, repeatedly(afterCount(3))", sessions(7), repeatedly(afterCount(3))],
    ["sessions, afterProcessingTime", sessions(7), afterProcessingTime(3)],
    ["sessions fused into the grouping, repeatedly(afterCount(3))", sessions(7), repeatedly(afterCount(3)), true],
    ["sessions fused into the grouping, afterCount(2) (closed sessions)", sessions(7), afterCount(2), true],
    ["global, repeatedly(afterCount(4))", globalWindows(), repeatedly(afterCount(4))],
  ];

  it.each(cases)(
    "%s: after the watermark passes expiry no window, key or hold is left",
    (_, windowing, trigger, fusedSessions) => {
      const h = reduceHarness({ windowing, trigger, allowedLatenessMs: 30, fusedSessions });
      for (let round = 0; round < 5; round++) {
        h.advanceProcessingTime(round * 10);
        h.bundle(...Array.from({ length: 40 }, (_, i) => ({ t: round * 20 + ((i * 7) % 50), key: `user${i % 9}` })));
        h.advanceWatermark(round * 20);
        h.bundle({ t: round * 20 - 15, key: "late" }); // partly late data
      }
      expect(h.windowCount()).toBeGreaterThan(0);
      expect(h.runner.keys.size).toBeGreaterThan(0);
      h.advanceProcessingTime(10_000);
      h.advanceWatermark(Number.MAX_SAFE_INTEGER);
      expect(h.windowCount()).toBe(0);
      expect(h.runner.keys.size).toBe(0);
      expect(h.runner.earliestHold()).toBe(Number.POSITIVE_INFINITY);
      expect(h.runner.outputWatermark).toBe(Number.MAX_SAFE_INTEGER);
    },
  );

  it("windows are collected as the watermark passes each one's expiry, not only at the end", () => {
    const h = reduceHarness({ windowing: fixed(10), allowedLatenessMs: 5 });
    h.bundle({ t: 1, key: "a" }, { t: 11, key: "b" }, { t: 21, key: "a" });
    expect(h.windowCount()).toBe(3);
    h.advanceWatermark(15); // [0,10) expires at 9 + 5 = 14
    expect(h.windowCount()).toBe(2);
    expect(h.runner.liveKeys().sort()).toEqual(["a", "b"]);
    h.advanceWatermark(25); // [10,20) expires at 24: key b has no window left
    expect(h.windowCount()).toBe(1);
    expect(h.runner.liveKeys()).toEqual(["a"]);
    // Emptied keys are swept lazily: gone within two more watermark advances.
    h.advanceWatermark(26);
    h.advanceWatermark(27);
    expect([...h.runner.keys.values()].map((k) => k.key)).toEqual(["a"]);
  });
});
