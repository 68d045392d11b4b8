import { describe, expect, it } from "vitest";
import { afterProcessingTime, repeatedly } from "../../../../core/triggers/trigger.ts";
import { globalWindows } from "../../../../core/windows/window-fn.ts";
import { reduceHarness } from "./harness.ts";

describe("afterProcessingTime aligned to a period (Beam's alignedTo)", () => {
  it("the deadline is rounded up to the next multiple of the period after the offset, and repeats", () => {
    const h = reduceHarness({
      windowing: globalWindows(),
      trigger: repeatedly(afterProcessingTime(0, { toMs: 100, offsetMs: 10 })),
    });
    h.advanceProcessingTime(125);
    h.element(1); // arrival 125: deadline 210 (the next 100-ms boundary after offset 10)
    h.advanceProcessingTime(210);
    expect(h.fired()).toEqual([]); // fires only once the clock is past the deadline
    h.advanceProcessingTime(211);
    expect(h.fired().map((p) => p.values)).toEqual([[1]]);
    h.advanceProcessingTime(300);
    h.element(2); // arrival 300: deadline 310
    h.advanceProcessingTime(305);
    expect(h.fired()).toEqual([]);
    h.advanceProcessingTime(311);
    expect(h.fired().map((p) => p.values)).toEqual([[2]]);
  });
});
