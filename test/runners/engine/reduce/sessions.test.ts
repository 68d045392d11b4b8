import { describe, expect, it } from "vitest";
import { afterCount, afterWatermark, defaultTrigger, repeatedly } from "../../../../core/triggers/trigger.ts";
import { sessions } from "../../../../core/windows/window-fn.ts";
import { type HarnessOptions, pane, reduceHarness as makeHarness } from "./harness.ts";

describe.each([
  ["proto-windows assigned before the grouping", false],
  ["session assignment fused into the grouping", true],
])("ReduceRunner: session merging, %s", (_, fusedSessions) => {
  const reduceHarness = (opts: HarnessOptions) => makeHarness({ ...opts, fusedSessions });

  it("merges overlapping proto-sessions, and a late element inside a fired session is a LATE pane of it", () => {
    const h = reduceHarness({
      windowing: sessions(10),
      allowedLatenessMs: 100,
      trigger: afterWatermark({ late: afterCount(1) }),
    });
    h.element(1);
    h.element(5); // [1,11) and [5,15) merge into [1,15)
    expect(h.fired()).toEqual([]);
    expect(h.counters.merges).toBe(1);
    h.advanceWatermark(11);
    expect(h.fired()).toEqual([]);
    h.advanceWatermark(15);
    expect(h.fired()).toEqual([
      pane("[1,15)", "ON_TIME", 0, {
        values: [1, 5],
        timestamp: 14,
        isFirst: true,
        isLast: false,
        nonSpeculativeIndex: 0,
      }),
    ]);
    h.element(3); // [3,13) lies inside [1,15): the existing window keeps its panes
    expect(h.fired()).toEqual([
      pane("[1,15)", "LATE", 1, { values: [3], timestamp: 14, isFirst: false, nonSpeculativeIndex: 1 }),
    ]);
  });

  it("touching sessions do not merge", () => {
    const h = reduceHarness({ windowing: sessions(10) });
    h.bundle(0, 10);
    h.advanceWatermark(20);
    expect(h.fired()).toEqual([
      pane("[0,10)", "ON_TIME", 0, { values: [0] }),
      pane("[10,20)", "ON_TIME", 0, { values: [10] }),
    ]);
  });

  it("a bridging element merges two sessions before anything fires (testMergeBeforeFinalizing)", () => {
    const h = reduceHarness({ windowing: sessions(10) });
    h.bundle(1, 15);
    h.advanceWatermark(2);
    expect(h.fired()).toEqual([]);
    h.element(8);
    h.advanceWatermark(30);
    expect(h.fired()).toEqual([pane("[1,25)", "ON_TIME", 0, { values: [1, 8, 15], isLast: true, timestamp: 24 })]);
  });

  it("merges transitively within one bundle", () => {
    const h = reduceHarness({ windowing: sessions(10) });
    h.bundle(25, 1, 17, 9); // [25,35) grows to [17,35); then [9,19) joins it to [1,11)
    h.advanceWatermark(100);
    expect(h.fired()).toEqual([pane("[1,35)", "ON_TIME", 0, { values: [1, 9, 17, 25] })]);
  });

  it("keeps sessions of different keys apart", () => {
    const h = reduceHarness({ windowing: sessions(10) });
    h.bundle({ t: 1, key: "a" }, { t: 5, key: "b" }, { t: 8, key: "a" });
    h.advanceWatermark(100);
    expect(h.fired()).toEqual(
      expect.arrayContaining([
        pane("[1,18)", "ON_TIME", 0, { key: "a", values: [1, 8] }),
        pane("[5,15)", "ON_TIME", 0, { key: "b", values: [5] }),
      ]),
    );
    expect(h.allFired()).toHaveLength(2);
  });

  describe("late data within allowed lateness", () => {
    const setup = (accumulation: "discarding" | "accumulating") => {
      const h = reduceHarness({ windowing: sessions(10), allowedLatenessMs: 100, accumulation });
      h.bundle(1, 12);
      h.advanceWatermark(25);
      expect(h.fired()).toEqual([
        pane("[1,11)", "ON_TIME", 0, { values: [1], isLast: false }),
        pane("[12,22)", "ON_TIME", 0, { values: [12], isLast: false }),
      ]);
      return h;
    };

    it("a late element bridging two fired sessions makes a new merged window whose first pane is LATE at index 0", () => {
      const h = setup("discarding");
      h.element(8); // [8,18) bridges [1,11) and [12,22) into [1,22), already past its end
      expect(h.fired()).toEqual([
        pane("[1,22)", "LATE", 0, { values: [8], isFirst: true, nonSpeculativeIndex: 0, timestamp: 21 }),
      ]);
      h.element(9); // inside [1,22): the merged window keeps its panes
      expect(h.fired()).toEqual([pane("[1,22)", "LATE", 1, { values: [9], isFirst: false, timestamp: 21 })]);
    });

    it("in accumulating mode the merged pane holds every element of its parts", () => {
      const h = setup("accumulating");
      h.element(8);
      expect(h.fired()).toEqual([pane("[1,22)", "LATE", 0, { values: [1, 8, 12] })]);
    });

    it("a late merge whose end is not yet passed waits for the watermark and is then ON_TIME at index 0", () => {
      const h = setup("discarding");
      h.element(20); // [20,30) merges with [12,22) into [12,30): not complete at watermark 25
      expect(h.fired()).toEqual([]);
      h.advanceWatermark(30);
      expect(h.fired()).toEqual([pane("[12,30)", "ON_TIME", 0, { values: [20], isFirst: true })]);
    });

    it("an element is still accepted when the watermark equals its proto-window's max timestamp plus lateness", () => {
      const h = setup("discarding");
      h.advanceWatermark(109); // [0,10)'s max timestamp 9 + 100
      h.element(0);
      expect(h.counters.droppedExpired).toBe(0);
      expect(h.fired()).toEqual([pane("[0,11)", "LATE", 0, { values: [0] })]);
    });
  });

  describe("late data beyond allowed lateness", () => {
    it("is dropped and counted, judged by its proto-window before merging", () => {
      const h = reduceHarness({ windowing: sessions(10), allowedLatenessMs: 100 });
      h.bundle(1, 12);
      h.advanceWatermark(115); // [12,22) lives until 121; [1,11) expired at 110
      h.fired();
      expect(h.windowCount()).toBe(1);
      h.element(2); // [2,12) expired: 11 + 100 < 115
      h.element(5); // [5,15): 14 + 100 < 115, expired even though it overlaps the live [12,22)
      expect(h.fired()).toEqual([]);
      expect(h.counters.droppedExpired).toBe(2);
      expect(h.windowCount()).toBe(1);
    });

    it("with no allowed lateness, data behind the watermark is dropped", () => {
      const h = reduceHarness({ windowing: sessions(10) });
      h.element(1);
      h.advanceWatermark(11);
      expect(h.fired()).toEqual([pane("[1,11)", "ON_TIME", 0, { isLast: true })]);
      h.element(0); // [0,10) max timestamp 9 < 11
      expect(h.counters.droppedExpired).toBe(1);
      h.element(2); // [2,12): its max timestamp 11 is not before 11, so it is kept, as a session not yet complete
      expect(h.counters.droppedExpired).toBe(1);
      expect(h.fired()).toEqual([]);
      h.advanceWatermark(12);
      expect(h.fired()).toEqual([pane("[2,12)", "ON_TIME", 0, { values: [2], isLast: true })]);
    });
  });

  describe("closed sessions", () => {
    it("a proto-session equal to a closed session is dropped; others start a fresh session", () => {
      const h = reduceHarness({ windowing: sessions(10), allowedLatenessMs: 100, trigger: afterCount(1) });
      h.element(1);
      expect(h.fired()).toEqual([pane("[1,11)", "EARLY", 0, { isLast: true, values: [1] })]);
      h.element(1); // equal to the closed [1,11)
      expect(h.fired()).toEqual([]);
      expect(h.counters.droppedClosed).toBe(1);
      h.element(5); // overlaps the closed [1,11) but the closed window takes no part in merging
      expect(h.fired()).toEqual([pane("[5,15)", "EARLY", 0, { isLast: true, values: [5] })]);
    });

    it("a proto-session equal to a closed session still merges with another element of its bundle", () => {
      for (const order of [
        [1, 5],
        [5, 1],
      ]) {
        const h = reduceHarness({ windowing: sessions(10), allowedLatenessMs: 100, trigger: afterCount(1) });
        h.element(1);
        expect(h.fired()).toEqual([pane("[1,11)", "EARLY", 0, { isLast: true })]);
        h.bundle(...order); // [1,11) and [5,15) merge into [1,15) before anything is dropped (Beam merges the bundle first)
        expect(h.fired()).toEqual([pane("[1,15)", "EARLY", 0, { values: [1, 5], isLast: true })]);
        expect(h.counters.droppedClosed).toBe(0);
      }
    });

    it("every element of a bundle whose sessions merge into a closed session is dropped and counted", () => {
      const h = reduceHarness({ windowing: sessions(10), allowedLatenessMs: 20, trigger: afterCount(2) });
      h.bundle(39, 42);
      expect(h.fired()).toEqual([pane("[39,52)", "EARLY", 0, { values: [39, 42], isLast: true })]);
      h.bundle(39, 42); // [39,49) and [42,52) merge into the closed [39,52) (testMergingWithClosedRepresentative)
      expect(h.fired()).toEqual([]);
      expect(h.counters.droppedClosed).toBe(2);
      h.advanceWatermark(1_000);
      expect(h.fired()).toEqual([]);
    });

    it("a repeatedly trigger keeps merged sessions open", () => {
      const h = reduceHarness({ windowing: sessions(10), trigger: repeatedly(afterCount(2)) });
      h.bundle(1, 3);
      expect(h.fired()).toEqual([pane("[1,13)", "EARLY", 0, { values: [1, 3] })]);
      h.element(12); // [12,22) merges with [1,13): a new window, numbered from 0
      expect(h.fired()).toEqual([]);
      h.element(14);
      expect(h.fired()).toEqual([pane("[1,24)", "EARLY", 0, { values: [12, 14] })]);
    });
  });

  it("the default trigger fires once per later bundle of late data into the same session", () => {
    const h = reduceHarness({ windowing: sessions(10), allowedLatenessMs: 50, trigger: defaultTrigger() });
    h.bundle(1, 9);
    h.advanceWatermark(20);
    h.bundle(2, 3); // inside [1,19)
    h.element(4);
    expect(h.fired()).toEqual([
      pane("[1,19)", "ON_TIME", 0, { values: [1, 9] }),
      pane("[1,19)", "LATE", 1, { values: [2, 3] }),
      pane("[1,19)", "LATE", 2, { values: [4] }),
    ]);
  });
});
