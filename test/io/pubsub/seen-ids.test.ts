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

  it("drops exactly what a single ordered map would, across its minute buckets (random times, a clock that goes back)", () => {
    let a = 7;
    const rnd = () => {
      a = (a * 1103515245 + 12345) & 0x7fffffff;
      return a / 0x7fffffff;
    };
    const s = new SeenIds(base);
    const model = new Map<string, number>(); // id -> second seen, in insertion order (the rule before buckets)
    let now = base;
    let horizon = base;
    for (let i = 0; i < 20_000; i++) {
      now += rnd() < 0.02 ? -Math.floor(rnd() * 3_000) : Math.floor(rnd() * 400);
      const id = `m${i}`;
      s.add(id, now);
      model.set(id, Math.floor((now - base) / 1000));
      if (rnd() < 0.05) {
        horizon = Math.max(horizon, now - 120_000 + Math.floor(rnd() * 60_000));
        s.forgetBefore(horizon);
        const h = Math.floor((horizon - base) / 1000);
        for (const [k, at] of model) {
          if (at >= h) break;
          model.delete(k);
        }
        // Never forgets an id the single map keeps; keeps no id seen before the horizon's second unless a later
        // time came first (the clock went back).
        for (const k of model.keys()) expect(s.has(k)).toBe(true);
      }
    }
    expect(s.size).toBeGreaterThanOrEqual(model.size);
    expect(s.size - model.size).toBeLessThan(500);
    const kept = new Set(s.entries().map(([k]) => k));
    for (const k of model.keys()) expect(kept.has(k)).toBe(true);
    expect(kept.size).toBe(s.size);
  });

  it("drops whole minutes without looking at their ids one by one, and its size follows", () => {
    const s = new SeenIds(base);
    for (let i = 0; i < 6_000; i++) s.add(`m${i}`, base + i * 100); // 600 s: ten minute buckets
    expect(s.size).toBe(6_000);
    s.forgetBefore(base + 300_000);
    expect(s.size).toBe(3_000);
    expect([s.has("m2999"), s.has("m3000")]).toEqual([false, true]);
    expect(s.entries()[0]).toEqual(["m3000", base + 300_000]);
    s.forgetBefore(base + 330_050); // inside a minute: to the second
    expect([s.has("m3299"), s.has("m3300")]).toEqual([false, true]);
    expect(s.size).toBe(2_700);
  });
});
