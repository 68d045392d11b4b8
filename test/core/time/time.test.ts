import { describe, expect, it } from "vitest";
import {
  days,
  END_OF_GLOBAL_WINDOW,
  formatInstant,
  hours,
  instant,
  MAX_TIMESTAMP,
  millis,
  MIN_TIMESTAMP,
  minutes,
  seconds,
  ZERO,
} from "../../../core/time/index.ts";

describe("durations", () => {
  it("convert to milliseconds", () => {
    expect(ZERO).toBe(0);
    expect(millis(7)).toBe(7);
    expect(seconds(2)).toBe(2_000);
    expect(minutes(30)).toBe(1_800_000);
    expect(hours(1)).toBe(3_600_000);
    expect(days(1)).toBe(86_400_000);
  });
});

describe("instant", () => {
  it("accepts integer epoch milliseconds in range", () => {
    expect(instant(0)).toBe(0);
    expect(instant(-5)).toBe(-5);
    expect(instant(MIN_TIMESTAMP)).toBe(MIN_TIMESTAMP);
    expect(instant(MAX_TIMESTAMP)).toBe(MAX_TIMESTAMP);
  });

  it.each([1.5, Number.NaN, Number.POSITIVE_INFINITY, MAX_TIMESTAMP + 1, MIN_TIMESTAMP - 1])("rejects %d", (v) => {
    expect(() => instant(v)).toThrow(RangeError);
    expect(() => instant(v)).toThrow(/not a valid timestamp/);
  });

  it("the global window ends one day before the end of time", () => {
    expect(MAX_TIMESTAMP - END_OF_GLOBAL_WINDOW).toBe(days(1));
  });
});

describe("formatInstant", () => {
  it("shows ISO-8601 with the epoch ms", () => {
    expect(formatInstant(0)).toBe("1970-01-01T00:00:00.000Z (0)");
    expect(formatInstant(1_500)).toBe("1970-01-01T00:00:01.500Z (1500)");
  });

  it("names the ends of time and the end of the global window", () => {
    expect(formatInstant(MIN_TIMESTAMP)).toBe("-inf");
    expect(formatInstant(Number.NEGATIVE_INFINITY)).toBe("-inf");
    expect(formatInstant(MAX_TIMESTAMP)).toBe("+inf");
    expect(formatInstant(END_OF_GLOBAL_WINDOW)).toBe("end-of-global-window");
  });
});
