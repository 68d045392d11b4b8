import { describe, expect, it } from "vitest";
import { sessionAggregateFn } from "../../../pipelines/user-sessions/session-aggregate.ts";
import type { UserEvent } from "../../../schemas/event.ts";

const ev = (id: string, t: number, over: Partial<UserEvent> = {}): UserEvent =>
  ({
    event_id: id,
    event_type: "page_view",
    user_id: "u",
    tenant_id: "acme",
    event_time_ms: t,
    event_time_raw: String(t),
    platform: "ios",
    schema_version: 1,
    ...over,
  }) as UserEvent;

/** A seeded shuffle. */
function shuffled<T>(xs: readonly T[], seed: number): T[] {
  let s = seed;
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe("the session aggregate does not depend on the order events arrive or accumulators merge", () => {
  // Two signups with different sources, pages at tied times: "first" and "last" are by event time, then event id.
  const events = [
    ev("e3", 1_000, { page: "/b" }),
    ev("e1", 1_000, { page: "/a" }),
    ev("e9", 5_000, { page: "/z" }),
    ev("e7", 5_000, { page: "/y" }),
    ev("s2", 3_000, { event_type: "user_signup", acquisition_source: "ads" }),
    ev("s1", 4_000, { event_type: "user_signup", acquisition_source: "organic" }),
    ev("s0", 3_000, { event_type: "user_signup", acquisition_source: "email" }),
    ev("p1", 2_000, { event_type: "purchase", amount: 10 }),
  ];

  it("entry page: earliest (then lowest id); exit page: latest (then highest id); acquisition: the earliest signup's", () => {
    for (let seed = 1; seed <= 50; seed++) {
      const order = shuffled(events, seed);
      const cut = 1 + (seed % (order.length - 1));
      // Two accumulators over parts of the input, merged in either order.
      const a = order
        .slice(0, cut)
        .reduce((acc, e) => sessionAggregateFn.addInput(acc, e), sessionAggregateFn.createAccumulator());
      const b = order
        .slice(cut)
        .reduce((acc, e) => sessionAggregateFn.addInput(acc, e), sessionAggregateFn.createAccumulator());
      const merged = sessionAggregateFn.extractOutput(
        sessionAggregateFn.mergeAccumulators(seed % 2 === 0 ? [a, b] : [b, a]),
      );
      expect(merged.entry?.value, `seed ${seed}`).toBe("/a");
      expect(merged.exit?.value, `seed ${seed}`).toBe("/z");
      expect(merged.acquisition?.value, `seed ${seed}`).toBe("email");
      expect(merged.count).toBe(events.length);
      expect(merged.revenue).toBe(10);
    }
  });
});
