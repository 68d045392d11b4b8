import { describe, expect, it } from "vitest";
import { changeSequence, firstIngestedWins, hourlyChanges } from "../../../io/bigquery/cdc.ts";

/** BigQuery's comparison of two `_CHANGE_SEQUENCE_NUMBER`s, as documented: section by section, as unsigned numbers. */
function compareSequences(a: string, b: string): number {
  const as = a.split("/").map((x) => BigInt(`0x${x}`));
  const bs = b.split("/").map((x) => BigInt(`0x${x}`));
  for (let i = 0; i < Math.max(as.length, bs.length); i++) {
    const x = as[i] ?? 0n;
    const y = bs[i] ?? 0n;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

describe("_CHANGE_SEQUENCE_NUMBER", () => {
  it("is BigQuery's format: one to four sections of 16 hex digits, separated by /", () => {
    expect(changeSequence([0])).toBe("0000000000000000");
    expect(changeSequence([255, 1])).toBe("00000000000000FF/0000000000000001");
    expect(changeSequence([Number.MAX_SAFE_INTEGER])).toBe("001FFFFFFFFFFFFF");
    expect(() => changeSequence([])).toThrow("one to four sections");
    expect(() => changeSequence([1, 2, 3, 4, 5])).toThrow("one to four sections, got 5");
    expect(() => changeSequence([-1])).toThrow("must be a whole number >= 0, got -1");
    expect(() => changeSequence([1.5])).toThrow("got 1.5");
  });

  it("orders as its numbers do, by BigQuery's comparison and as text alike", () => {
    let s = 12345;
    const rand = () => {
      s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0;
      return s;
    };
    for (let i = 0; i < 2000; i++) {
      const a = [rand() * 2048 + (rand() % 2048), rand() % 7];
      const b = i % 3 === 0 ? [a[0] as number, rand() % 7] : [rand() * 2048 + (rand() % 2048), rand() % 7];
      const numeric = (a[0] as number) - (b[0] as number) || (a[1] as number) - (b[1] as number);
      const [ta, tb] = [changeSequence(a), changeSequence(b)];
      expect(compareSequences(ta, tb)).toBe(Math.sign(numeric));
      expect(ta < tb ? -1 : ta > tb ? 1 : 0).toBe(Math.sign(numeric));
    }
  });

  it("keeps the first-ingested row of Bronze and Silver, and the newest pane of an hour", () => {
    const seq = (ms: number) => changeSequence(firstIngestedWins(ms));
    expect(compareSequences(seq(1_000), seq(2_000))).toBe(1);
    const [early, onTime, late] = hourlyChanges([
      { events: 5, updated_at: 100, pane_timing: "EARLY" },
      { events: 5, updated_at: 100, pane_timing: "ON_TIME" },
      { events: 6, updated_at: 90, pane_timing: "LATE" },
    ]).map((c) => changeSequence(c.seq));
    expect(compareSequences(early as string, onTime as string)).toBe(-1);
    expect(compareSequences(onTime as string, late as string)).toBe(-1);
  });
});
