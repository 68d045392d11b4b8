import { describe, expect, it } from "vitest";
import {
  afterAll,
  afterAny,
  afterCount,
  afterEach,
  afterProcessingTime,
  afterWatermark,
  orFinally,
  repeatedly,
} from "../../../../core/triggers/trigger.ts";
import { fixed } from "../../../../core/windows/window-fn.ts";
import { pane, reduceHarness } from "./harness.ts";

describe("ReduceRunner: composite triggers", () => {
  it("afterEach runs its steps in turn and closes after the last", () => {
    const h = reduceHarness({
      windowing: fixed(100),
      allowedLatenessMs: 50,
      trigger: afterEach(afterCount(2), afterCount(1)),
    });
    h.element(1);
    expect(h.fired()).toEqual([]);
    h.element(2);
    expect(h.fired()).toEqual([pane("[0,100)", "EARLY", 0, { values: [1, 2], isLast: false })]);
    h.element(3);
    expect(h.fired()).toEqual([pane("[0,100)", "EARLY", 1, { values: [3], isLast: true })]);
    h.element(4);
    expect(h.counters.droppedClosed).toBe(1);
  });

  it("afterAny fires when the first sub-trigger fires, then closes", () => {
    const h = reduceHarness({ windowing: fixed(100), trigger: afterAny(afterCount(3), afterProcessingTime(5)) });
    h.advanceProcessingTime(0);
    h.element(1);
    h.advanceProcessingTime(6);
    expect(h.fired()).toEqual([pane("[0,100)", "EARLY", 0, { values: [1], isLast: true })]);
  });

  it("afterAll fires once every sub-trigger has fired", () => {
    const h = reduceHarness({ windowing: fixed(100), trigger: afterAll(afterCount(2), afterProcessingTime(5)) });
    h.advanceProcessingTime(0);
    h.element(1);
    h.advanceProcessingTime(6);
    expect(h.fired()).toEqual([]); // the delay passed, but only one element
    h.element(2);
    expect(h.fired()).toEqual([pane("[0,100)", "EARLY", 0, { values: [1, 2], isLast: true })]);
  });

  it("orFinally fires with its main trigger until the other one fires, and then closes", () => {
    const h = reduceHarness({ windowing: fixed(100), trigger: orFinally(repeatedly(afterCount(1)), afterCount(3)) });
    h.element(1);
    h.element(2);
    h.element(3);
    h.element(4);
    expect(h.fired()).toEqual([
      pane("[0,100)", "EARLY", 0, { values: [1], isLast: false }),
      pane("[0,100)", "EARLY", 1, { values: [2], isLast: false }),
      pane("[0,100)", "EARLY", 2, { values: [3], isLast: true }),
    ]);
    expect(h.counters.droppedClosed).toBe(1);
  });

  it("repeatedly(afterWatermark with early firings) in fixed windows fires early panes then the on-time pane", () => {
    const h = reduceHarness({
      windowing: fixed(10),
      trigger: afterWatermark({ early: repeatedly(afterCount(1)) }),
    });
    h.element(1);
    h.element(2);
    h.advanceWatermark(10);
    expect(h.fired()).toEqual([
      pane("[0,10)", "EARLY", 0, { values: [1] }),
      pane("[0,10)", "EARLY", 1, { values: [2] }),
      pane("[0,10)", "ON_TIME", 2, { values: [], isLast: true }),
    ]);
  });
});
