import { describe, expect, it } from "vitest";
import { TimeHeap } from "../../../../runners/engine/timers/time-heap.ts";

function drain<T>(h: TimeHeap<T>): [number, T | undefined][] {
  const out: [number, T | undefined][] = [];
  while (h.size > 0) {
    const t = h.peekTime();
    out.push([t, h.pop()]);
  }
  return out;
}

describe("TimeHeap", () => {
  it("is empty at first: peekTime is +Infinity, pop and peekItem give undefined", () => {
    const h = new TimeHeap<string>();
    expect(h.size).toBe(0);
    expect(h.peekTime()).toBe(Number.POSITIVE_INFINITY);
    expect(h.peekItem()).toBeUndefined();
    expect(h.pop()).toBeUndefined();
  });

  it("pops in time order", () => {
    const h = new TimeHeap<string>();
    for (const [t, s] of [
      [5, "e"],
      [1, "a"],
      [-3, "neg"],
      [4, "d"],
      [2, "b"],
    ] as const)
      h.push(t, s);
    expect(h.peekTime()).toBe(-3);
    expect(h.peekItem()).toBe("neg");
    expect(drain(h)).toEqual([
      [-3, "neg"],
      [1, "a"],
      [2, "b"],
      [4, "d"],
      [5, "e"],
    ]);
  });

  it("pops every tie before later times, and the same operations give the same order (deterministic)", () => {
    const run = () => {
      const h = new TimeHeap<string>();
      h.push(7, "first");
      h.push(3, "x");
      h.push(7, "second");
      h.push(7, "third");
      h.push(1, "y");
      h.push(7, "fourth");
      return drain(h);
    };
    const out = run();
    expect(out.map(([t]) => t)).toEqual([1, 3, 7, 7, 7, 7]);
    expect(
      out
        .slice(2)
        .map(([, s]) => s)
        .sort(),
    ).toEqual(["first", "fourth", "second", "third"]);
    expect(run()).toEqual(out);
  });

  it("handles +Infinity and -Infinity times", () => {
    const h = new TimeHeap<string>();
    h.push(Number.POSITIVE_INFINITY, "never");
    h.push(0, "zero");
    h.push(Number.NEGATIVE_INFINITY, "always");
    expect(drain(h).map(([, s]) => s)).toEqual(["always", "zero", "never"]);
  });

  it("grows past its initial capacity and stays sorted, losing nothing", () => {
    const h = new TimeHeap<number>();
    const pushed: [number, number][] = [];
    let seed = 7;
    for (let i = 0; i < 1_000; i++) {
      seed = (seed * 48_271) % 2_147_483_647;
      const t = seed % 50; // many ties
      h.push(t, i);
      pushed.push([t, i]);
    }
    expect(h.size).toBe(1_000);
    const out = drain(h);
    expect(out.map(([t]) => t)).toEqual(pushed.map(([t]) => t).sort((a, b) => a - b));
    expect(out.map(([, i]) => i).sort((a, b) => (a as number) - (b as number))).toEqual(pushed.map(([, i]) => i));
  });

  it("clear empties it", () => {
    const h = new TimeHeap<string>();
    h.push(1, "a");
    h.push(2, "b");
    h.clear();
    expect(h.size).toBe(0);
    expect(h.peekTime()).toBe(Number.POSITIVE_INFINITY);
    h.push(9, "c");
    expect(drain(h)).toEqual([[9, "c"]]);
  });
});
