import { describe, expect, it } from "vitest";
import { WatermarkEstimator } from "../../../io/pubsub/watermark-estimator.ts";

const T = 1_767_600_000_000;

describe("the Pub/Sub watermark estimator", () => {
  it("trails the newest timestamp seen by the out-of-orderness bound, whatever order timestamps come in", () => {
    const w = new WatermarkEstimator({ maxOutOfOrdernessMs: 10_000, idleMs: Number.POSITIVE_INFINITY }, T);
    expect(w.current(T)).toBe(Number.NEGATIVE_INFINITY);
    w.observe(T + 50_000, T + 1);
    expect(w.current(T + 1)).toBe(T + 40_000);
    // An older message (out of order) does not move it back; a newer one moves it on.
    w.observe(T + 20_000, T + 2);
    expect(w.current(T + 2)).toBe(T + 40_000);
    w.observe(T + 65_000, T + 3);
    expect(w.current(T + 3)).toBe(T + 55_000);
    // Idle advance off: hours of silence leave it where the data put it.
    expect(w.current(T + 10 * 3_600_000)).toBe(T + 55_000);
  });

  it("after idleMs of wall time without a message it moves to the wall clock minus the bound, and never back", () => {
    const w = new WatermarkEstimator({ maxOutOfOrdernessMs: 10_000, idleMs: 5_000 }, T);
    w.observe(T - 3_600_000, T + 1_000); // a message an hour old, arriving at T + 1 s
    expect(w.current(T + 1_000)).toBe(T - 3_610_000);
    expect(w.current(T + 5_999)).toBe(T - 3_610_000); // idle for 4,999 ms: not yet
    expect(w.current(T + 6_000)).toBe(T - 4_000); // idle for 5 s: now - 10 s
    // A late message arriving now does not take it back.
    w.observe(T - 7_200_000, T + 7_000);
    expect(w.current(T + 7_000)).toBe(T - 4_000);
    expect(w.current(T + 12_000)).toBe(T + 2_000);
  });

  it("restores from its snapshot: the newest timestamp and the watermark reached, the idle clock starting again", () => {
    const a = new WatermarkEstimator({ maxOutOfOrdernessMs: 1_000, idleMs: 5_000 }, T);
    a.observe(T + 30_000, T);
    expect(a.current(T + 10_000)).toBe(T + 29_000); // idle: now - 1 s would be T + 9 s, less than the data's
    const snap = a.snapshot();
    expect(snap).toEqual({ maxSeen: T + 30_000, watermark: T + 29_000 });
    const b = new WatermarkEstimator({ maxOutOfOrdernessMs: 1_000, idleMs: 5_000 }, T + 100_000);
    b.restore(snap);
    expect(b.current(T + 100_000)).toBe(T + 29_000);
    b.observe(T + 31_000, T + 100_001);
    expect(b.current(T + 100_001)).toBe(T + 30_000);
    // Idle again 5 s after its last message, not after the restore.
    expect(b.current(T + 105_000)).toBe(T + 30_000);
    expect(b.current(T + 105_001)).toBe(T + 104_001);
  });
});
