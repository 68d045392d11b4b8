import { describe, expect, it } from "vitest";
import { tableRows } from "./table-rows.ts";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import { fixtureFileSource } from "../../../io/test-stream/jsonl.ts";
import type { Warehouse } from "../../../io/warehouse.ts";
import { runMedallion } from "../../../pipelines/user-sessions/run.ts";
import { stepMetrics } from "../../../runners/direct/metrics.ts";
import type { RawMessage } from "../../../schemas/event.ts";

const FIXTURE = "test/fixtures/events-small.jsonl";
type Row = Record<string, unknown>;

const ms = (v: unknown) => (v instanceof Date ? v.getTime() : Number(v));

describe("the medallion job on Prism v2.77.0 (--runner=prism) against the direct runner", () => {
  it("the shipped fixture gives the same Bronze, Silver and hourly Gold tables, and the same sessions wherever Prism merges them as Beam does", async () => {
    const options = { trigger: "watermark" as const };
    const onPrism = await DuckDbWarehouse.create(":memory:");
    await onPrism.open();
    const prismRun = await runMedallion(fixtureFileSource<RawMessage>(FIXTURE), onPrism, options, {
      runner: { runner: "prism" },
    });
    const direct = await DuckDbWarehouse.create(":memory:");
    await direct.open();
    await runMedallion(fixtureFileSource<RawMessage>(FIXTURE), direct, options);

    // Processing time: the direct runner's is the fixture's virtual clock, the worker's is its wall clock (the Fn
    // API sends no processing time, nor the input watermark that `is_late` compares with).
    for (const [table, without] of [
      ["bronze_messages", ["ingest_time"]],
      ["silver_events", ["ingest_time", "lateness_ms", "is_late"]],
      ["gold_tenant_hourly", ["pane_timing", "updated_at"]],
    ] as const) {
      const a = await tableRows(onPrism, table, without);
      expect(a.length, table).toBeGreaterThan(0);
      expect(a, table).toEqual(await tableRows(direct, table, without));
    }
    expect(stepMetrics(prismRun.metrics, "Read").elementsOut).toBe(1480);

    // Sessions: per user, Prism's rows equal the direct runner's, except for users where Prism left overlapping
    // sessions (a late event merging into a fired session: Prism also fires its own proto-session, see
    // prism-worker.test.ts), which a session table never has.
    const sessionCols = ["pane_timing", "pane_index", "updated_at"];
    const byUser = async (w: Warehouse) => {
      const m = new Map<string, Row[]>();
      for (const r of (await w.query("SELECT * FROM gold_sessions")) as Row[]) {
        const u = `${r.tenant_id}/${r.user_id}`;
        m.set(u, [...(m.get(u) ?? []), r]);
      }
      return m;
    };
    const p = await byUser(onPrism);
    const d = await byUser(direct);
    const overlapping = (rs: Row[]) =>
      rs.some((a, i) =>
        rs.some(
          (b, j) => i !== j && ms(a.session_start) < ms(b.session_end) && ms(b.session_start) < ms(a.session_end),
        ),
      );
    const strip = (rs: Row[]) =>
      rs
        .map((r) =>
          JSON.stringify(
            Object.entries(r).filter(([k]) => !sessionCols.includes(k)),
            (_, v) => (typeof v === "bigint" ? String(v) : v),
          ),
        )
        .sort();
    expect([...p.keys()].sort()).toEqual([...d.keys()].sort());
    let same = 0;
    const deviating: string[] = [];
    for (const [user, rs] of d) {
      expect(overlapping(rs), `direct runner sessions of ${user} overlap`).toBe(false);
      const prs = p.get(user) ?? [];
      if (overlapping(prs)) {
        deviating.push(user);
        continue;
      }
      expect(strip(prs), user).toEqual(strip(rs));
      same++;
    }
    // Where Prism deviates, it splits a session the direct runner merged: every Prism session of the user lies within
    // one of the direct runner's sessions, and each of those starts with one of Prism's.
    for (const user of deviating) {
      const ds = d.get(user) ?? [];
      const ps = p.get(user) ?? [];
      const within = (r: Row, s: Row) =>
        ms(s.session_start) <= ms(r.session_start) && ms(r.session_end) <= ms(s.session_end);
      for (const r of ps)
        expect(
          ds.filter((s) => within(r, s)),
          user,
        ).toHaveLength(1);
      for (const s of ds) {
        const parts = ps.filter((r) => within(r, s));
        expect(
          parts.some((r) => ms(r.session_start) === ms(s.session_start)),
          user,
        ).toBe(true);
      }
    }
    expect(same + deviating.length).toBe(d.size);
    // Measured: 12 of the fixture's 25 users, the others touched by late data merging into fired sessions.
    expect(same).toBeGreaterThanOrEqual(10);
  }, 120_000);
});
