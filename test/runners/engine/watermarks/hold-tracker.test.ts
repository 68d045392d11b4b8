import { describe, expect, it } from "vitest";
import { HoldTracker } from "../../../../runners/engine/watermarks/hold-tracker.ts";

describe("HoldTracker", () => {
  it("is empty at first: the minimum is +Infinity", () => {
    const h = new HoldTracker();
    expect(h.min()).toBe(Number.POSITIVE_INFINITY);
    expect(h.isEmpty()).toBe(true);
    expect(h.distinct).toBe(0);
  });

  it("the minimum is the earliest timestamp still held", () => {
    const h = new HoldTracker();
    h.add(30);
    h.add(10);
    h.add(20);
    expect(h.min()).toBe(10);
    h.drop(10);
    expect(h.min()).toBe(20);
    h.drop(30);
    expect(h.min()).toBe(20);
    h.drop(20);
    expect(h.min()).toBe(Number.POSITIVE_INFINITY);
    expect(h.isEmpty()).toBe(true);
  });

  it("holds are counted: a timestamp stays held until every hold on it is dropped", () => {
    const h = new HoldTracker();
    h.add(5, 2);
    h.add(5);
    h.add(7);
    expect(h.count(5)).toBe(3);
    expect(h.distinct).toBe(2);
    h.drop(5, 2);
    expect(h.min()).toBe(5);
    h.drop(5);
    expect(h.count(5)).toBe(0);
    expect(h.min()).toBe(7);
  });

  it("a timestamp held again after being dropped is the minimum again", () => {
    const h = new HoldTracker();
    h.add(3);
    h.add(8);
    h.drop(3);
    expect(h.min()).toBe(8);
    h.add(3);
    expect(h.min()).toBe(3);
    h.drop(3);
    expect(h.min()).toBe(8);
  });

  it("adding zero holds changes nothing", () => {
    const h = new HoldTracker();
    h.add(4, 0);
    expect(h.isEmpty()).toBe(true);
    expect(h.min()).toBe(Number.POSITIVE_INFINITY);
  });

  it("throws on a negative count to add", () => {
    const h = new HoldTracker();
    expect(() => h.add(4, -1)).toThrow(RangeError);
    expect(() => h.add(4, -1)).toThrow("HoldTracker.add: count must be positive, got -1");
    expect(h.isEmpty()).toBe(true);
  });

  it("throws when a drop would make a count negative, naming the timestamp and the counts", () => {
    const h = new HoldTracker();
    expect(() => h.drop(4)).toThrow("HoldTracker.drop: would make the count at 4 negative (held 0, dropping 1)");
    h.add(4);
    expect(() => h.drop(4, 2)).toThrow(RangeError);
    expect(h.count(4)).toBe(1); // a refused drop changes nothing
  });

  it("throws on a negative count to drop, as add does", () => {
    const h = new HoldTracker();
    h.add(4);
    expect(() => h.drop(4, -1)).toThrow(RangeError);
    expect(h.count(4)).toBe(1);
  });

  it("agrees with a brute-force multiset over a long random sequence", () => {
    const h = new HoldTracker();
    const ref: number[] = [];
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    for (let step = 0; step < 5_000; step++) {
      if (ref.length === 0 || rand(3) > 0) {
        const t = rand(200) - 100;
        h.add(t);
        ref.push(t);
      } else {
        const t = ref.splice(rand(ref.length), 1)[0] as number;
        h.drop(t);
      }
      expect(h.min()).toBe(ref.length === 0 ? Number.POSITIVE_INFINITY : Math.min(...ref));
    }
  });
});
