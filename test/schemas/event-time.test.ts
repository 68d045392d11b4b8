import { DateTime } from "luxon";
import { describe, expect, it } from "vitest";
import { parseEventTime, parseRfc3339 } from "../../schemas/event.ts";

const pad = (x: number, w = 2) => String(x).padStart(w, "0");

/** A small deterministic generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("event time parsing", () => {
  it("the RFC 3339 fast path agrees with luxon wherever it answers, and leaves every invalid date to luxon", () => {
    const r = rng(7);
    const int = (n: number) => Math.floor(r() * n);
    let answered = 0;
    for (let i = 0; i < 50_000; i++) {
      const year = [1, 99, 1900, 1970, 2000, 2024, 2026, 2100, 9999][int(9)]!;
      const s =
        `${pad(year, 4)}-${pad(int(14))}-${pad(int(33))}T${pad(int(25))}:${pad(int(61))}:${pad(int(61))}` +
        ["", ".1", ".12", ".123", ".1234", ".999999", ".5"][int(7)] +
        ["Z", "z", "+00:00", "-00:00", "+05:30", "-08:00", "+14:00", "-12:45", "+24:00", "+01:60"][int(10)];
      const fast = parseRfc3339(s);
      const dt = DateTime.fromISO(s, { setZone: true });
      if (fast === undefined) continue;
      answered++;
      expect({ s, valid: dt.isValid, ms: dt.toMillis() }).toEqual({ s, valid: true, ms: fast });
    }
    expect(answered).toBeGreaterThan(20_000);
  });

  it("normalises offsets to UTC and truncates sub-millisecond fractions", () => {
    expect(parseEventTime("2026-11-25T10:00:00+01:00")).toBe(Date.UTC(2026, 10, 25, 9));
    expect(parseEventTime("2026-11-25T10:00:00.1239Z")).toBe(Date.UTC(2026, 10, 25, 10, 0, 0, 123));
    expect(parseEventTime("2024-02-29T00:00:00-05:30")).toBe(Date.UTC(2024, 1, 29, 5, 30));
  });

  it("refuses impossible dates and times without an offset, naming the value", () => {
    expect(parseEventTime("2026-02-29T00:00:00Z")).toMatchObject({ field: "event_time", reason: /not ISO-8601/ });
    expect(parseEventTime("2026-11-25T10:00:00")).toMatchObject({ field: "event_time", reason: /no UTC offset/ });
  });
});
