import { describe, expect, it } from "vitest";
import { SeenIds } from "../../../io/pubsub/seen-ids.ts";

describe("SeenIds", () => {
  const base = Date.UTC(2026, 11, 7, 12);

  it("keeps each id until a horizon past the second it was seen in, oldest first", () => {
    const s = new SeenIds(base);
    s.add("a@1", base + 100);
    s.add("b@1", base + 1_900);
    s.add("c@1", base + 2_000);
    expect([s.has("a@1"), s.has("b@1"), s.has("c@1"), s.has("d@1")]).toEqual([true, true, true, false]);
    // A horizon inside second 1 keeps b (seen in second 1), forgets a (second 0).
    s.forgetBefore(base + 1_950);
    expect([s.has("a@1"), s.has("b@1"), s.has("c@1")]).toEqual([false, true, true]);
    s.forgetBefore(base + 2_000);
    expect([s.has("b@1"), s.has("c@1")]).toEqual([false, true]);
    expect(s.size).toBe(1);
  });

  it("never forgets an id seen at or after the horizon", () => {
    const s = new SeenIds(base);
    for (let i = 0; i < 1_000; i++) s.add(`m${i}`, base + i * 37);
    const horizon = base + 20_000;
    s.forgetBefore(horizon);
    for (let i = 0; i < 1_000; i++) {
      if (base + i * 37 >= horizon) expect(s.has(`m${i}`)).toBe(true);
      if (base + i * 37 < horizon - 1_000) expect(s.has(`m${i}`)).toBe(false);
    }
  });

  it("gives its ids back in ms, and a reader restored from them (started later) drops the same ids", () => {
    const s = new SeenIds(base);
    const odd = "x\ud800y"; // a lone surrogate: kept exactly
    s.add("p@5", base + 5_250);
    s.add(odd, base + 7_999);
    expect(s.entries()).toEqual([
      ["p@5", base + 5_000],
      [odd, base + 7_000],
    ]);
    const r = new SeenIds(base + 60_000);
    r.restore(s.entries());
    expect([r.has("p@5"), r.has(odd), r.has("x\ud801y")]).toEqual([true, true, false]);
    r.forgetBefore(base + 6_000);
    expect([r.has("p@5"), r.has(odd)]).toEqual([false, true]);
    expect(r.entries()).toEqual([[odd, base + 7_000]]);
  });
});
