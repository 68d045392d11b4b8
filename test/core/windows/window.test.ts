import { describe, expect, it } from "vitest";
import { END_OF_GLOBAL_WINDOW, MIN_TIMESTAMP } from "../../../core/time/instant.ts";
import { GLOBAL_WINDOW, GlobalWindow, IntervalWindow, windowStart } from "../../../core/windows/window.ts";

const w = (start: number, end: number) => new IntervalWindow(start, end);

describe("IntervalWindow", () => {
  it("is half-open: its max timestamp is end - 1", () => {
    expect(w(0, 10).maxTimestamp).toBe(9);
    expect(w(-10, 0).maxTimestamp).toBe(-1);
  });

  it("intersects when the intervals share an instant", () => {
    expect(w(0, 10).intersects(w(5, 15))).toBe(true);
    expect(w(5, 15).intersects(w(0, 10))).toBe(true);
    expect(w(0, 10).intersects(w(9, 10))).toBe(true);
    expect(w(0, 10).intersects(w(2, 3))).toBe(true);
    expect(w(2, 3).intersects(w(0, 10))).toBe(true);
  });

  it("touching windows [0,10) and [10,20) do not intersect (SessionsTest.testSimple)", () => {
    expect(w(0, 10).intersects(w(10, 20))).toBe(false);
    expect(w(10, 20).intersects(w(0, 10))).toBe(false);
  });

  it("disjoint windows do not intersect", () => {
    expect(w(0, 10).intersects(w(11, 20))).toBe(false);
    expect(w(11, 20).intersects(w(0, 10))).toBe(false);
  });

  it("contains and span", () => {
    expect(w(0, 10).contains(w(0, 10))).toBe(true);
    expect(w(0, 10).contains(w(2, 8))).toBe(true);
    expect(w(0, 10).contains(w(5, 11))).toBe(false);
    expect(w(0, 10).span(w(20, 30)).toString()).toBe("[0, 30)");
    expect(w(5, 8).span(w(0, 6)).toString()).toBe("[0, 8)");
  });

  it("equals by bounds, not identity", () => {
    expect(w(0, 10).equals(w(0, 10))).toBe(true);
    expect(w(0, 10).equals(w(0, 11))).toBe(false);
    expect(w(0, 10).equals(GLOBAL_WINDOW)).toBe(false);
  });
});

describe("GlobalWindow", () => {
  it("is a singleton whose max timestamp is one day before the end of time", () => {
    expect(GlobalWindow.INSTANCE).toBe(GLOBAL_WINDOW);
    expect(GLOBAL_WINDOW.maxTimestamp).toBe(END_OF_GLOBAL_WINDOW);
    expect(GLOBAL_WINDOW.equals(GLOBAL_WINDOW)).toBe(true);
    expect(GLOBAL_WINDOW.equals(w(0, 10))).toBe(false);
  });

  it("starts at the beginning of time", () => {
    expect(windowStart(GLOBAL_WINDOW)).toBe(MIN_TIMESTAMP);
    expect(windowStart(w(3, 4))).toBe(3);
  });
});
