import { describe, expect, it } from "vitest";
import {
  assignWindows,
  describeWindowFn,
  fixed,
  GLOBAL_WINDOWS,
  globalWindows,
  isMerging,
  sessions,
  sliding,
  type WindowFn,
  windowFnProblem,
} from "../../../core/windows/window-fn.ts";
import { GLOBAL_WINDOW, type BoundedWindow } from "../../../core/windows/window.ts";

/** The windows of an element at `t`, as `[start, end)` strings sorted by start. */
function windowsOf(fn: WindowFn, t: number): string[] {
  return assignWindows(fn, t, GLOBAL_WINDOWS)
    .map((w: BoundedWindow) => w.toString())
    .sort((a, b) => Number.parseInt(a.slice(1), 10) - Number.parseInt(b.slice(1), 10));
}

describe("assignWindows: fixed (start = t - floorMod(t - offset, size))", () => {
  it.each([
    [0, "[0, 10)"],
    [9, "[0, 10)"],
    [10, "[10, 20)"],
    [-1, "[-10, 0)"],
    [-10, "[-10, 0)"],
    [-11, "[-20, -10)"],
  ])("size 10: %i is in %s", (t, w) => {
    expect(windowsOf(fixed(10), t)).toEqual([w]);
  });

  it.each([
    [3, "[3, 13)"],
    [2, "[-7, 3)"],
    [12, "[3, 13)"],
    [13, "[13, 23)"],
    [-7, "[-7, 3)"],
    [-8, "[-17, -7)"],
  ])("size 10 offset 3: %i is in %s", (t, w) => {
    expect(windowsOf(fixed(10, 3), t)).toEqual([w]);
  });

  it("an offset larger than the size acts modulo the size", () => {
    expect(windowsOf(fixed(10, 23), 5)).toEqual(windowsOf(fixed(10, 3), 5));
  });

  it("the window's max timestamp is end - 1", () => {
    const [w] = assignWindows(fixed(10), 4, GLOBAL_WINDOWS);
    expect(w?.maxTimestamp).toBe(9);
  });
});

describe("assignWindows: sliding", () => {
  it("timestamp 1 with size 5 period 3 is in [-3,2) and [0,5) (GroupByKeyTest.testGroupByKeyMultipleWindows)", () => {
    expect(windowsOf(sliding(5, 3), 1)).toEqual(["[-3, 2)", "[0, 5)"]);
  });

  it("timestamp 5 with size 5 period 3 is in [3,8) only ([0,5) ends before it)", () => {
    expect(windowsOf(sliding(5, 3), 5)).toEqual(["[3, 8)"]);
  });

  it("size 10 period 5 puts every element in two windows, the later first", () => {
    const ws = assignWindows(sliding(10, 5), 7, GLOBAL_WINDOWS).map(String);
    expect(ws).toEqual(["[5, 15)", "[0, 10)"]);
  });

  it("works for negative timestamps", () => {
    expect(windowsOf(sliding(10, 5), -3)).toEqual(["[-10, 0)", "[-5, 5)"]);
  });

  it("with an offset, starts are offset + k * period", () => {
    expect(windowsOf(sliding(10, 5, 2), 7)).toEqual(["[2, 12)", "[7, 17)"]);
    expect(windowsOf(sliding(10, 5, 2), 6)).toEqual(["[-3, 7)", "[2, 12)"]);
  });

  it("period larger than size leaves gaps: an element in a gap has no window", () => {
    expect(windowsOf(sliding(2, 5), 3)).toEqual([]);
    expect(windowsOf(sliding(2, 5), 6)).toEqual(["[5, 7)"]);
  });

  it("period equal to size is fixed windows", () => {
    for (const t of [-12, -1, 0, 4, 9, 10, 31]) expect(windowsOf(sliding(10, 10), t)).toEqual(windowsOf(fixed(10), t));
  });
});

describe("assignWindows: sessions, global, merged", () => {
  it("sessions give the proto-window [t, t + gap)", () => {
    expect(windowsOf(sessions(10), 7)).toEqual(["[7, 17)"]);
    expect(windowsOf(sessions(10), -7)).toEqual(["[-7, 3)"]);
  });

  it("global windows give the global window", () => {
    expect(assignWindows(globalWindows(), 123, [])).toEqual([GLOBAL_WINDOW]);
  });

  it("merged windows keep the element's current windows", () => {
    const current = assignWindows(sessions(10), 1, GLOBAL_WINDOWS);
    expect(assignWindows({ kind: "merged", from: sessions(10) }, 5, current)).toBe(current);
  });

  it("only sessions (and custom functions with merge) merge", () => {
    expect(isMerging(sessions(1))).toBe(true);
    expect(isMerging(fixed(1))).toBe(false);
    expect(isMerging(sliding(2, 1))).toBe(false);
    expect(isMerging(globalWindows())).toBe(false);
    expect(isMerging({ kind: "merged", from: sessions(1) })).toBe(false);
  });
});

describe("windowFnProblem", () => {
  it.each<[WindowFn, RegExp]>([
    [fixed(0), /fixed window size must be a positive whole number of ms, got 0/],
    [fixed(-5), /fixed window size .* got -5/],
    [fixed(1.5), /fixed window size .* got 1.5/],
    [fixed(10, 0.5), /fixed window offset must be a whole number of ms, got 0.5/],
    [sliding(0, 1), /sliding window size .* got 0/],
    [sliding(10, 0), /sliding window period must be a positive whole number of ms, got 0/],
    [sessions(0), /session gap must be a positive whole number of ms, got 0/],
    [sessions(-1), /session gap .* got -1/],
  ])("%o: %s", (fn, problem) => {
    expect(windowFnProblem(fn)).toMatch(problem);
  });

  it.each<WindowFn>([fixed(10), fixed(10, -3), sliding(10, 5), sessions(1), globalWindows()])("%o is valid", (fn) => {
    expect(windowFnProblem(fn)).toBeUndefined();
  });

  it("describes window functions for messages", () => {
    expect(describeWindowFn(fixed(10, 3))).toBe("fixed(10ms, offset 3ms)");
    expect(describeWindowFn(sliding(10, 5))).toBe("sliding(10ms every 5ms)");
    expect(describeWindowFn(sessions(30))).toBe("sessions(gap 30ms)");
  });
});
