import { describe, expect, it } from "vitest";
import { Pipeline } from "../../../core/pipeline.ts";
import { hours, minutes } from "../../../core/time/duration.ts";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import { readFixtureStream } from "../../../io/test-stream/jsonl.ts";
import { medallion } from "../../../pipelines/user-sessions/pipeline.ts";
import { DirectRunner } from "../../../runners/direct/direct-runner.ts";
import { stepMetrics } from "../../../runners/direct/metrics.ts";
import type { RawMessage } from "../../../schemas/event.ts";
import { REFERENCE_SESSIONS } from "./reference-sessions.ts";

describe("Gold against a reference computed with SQL over Silver", () => {
  it("the shipped fixture (late mobile batches, duplicates, malformed payloads): one Gold row per SQL session", async () => {
    const warehouse = await DuckDbWarehouse.create(":memory:");
    await warehouse.open();
    const p = Pipeline.create();
    medallion(p, readFixtureStream<RawMessage>("test/fixtures/events-small.jsonl"), warehouse, {
      gapMs: minutes(30),
      allowedLatenessMs: hours(24),
      batchRows: 2_000,
    });
    const metrics = await new DirectRunner().run(p, { maxBundleMs: 1_000 });
    expect(stepMetrics(metrics, "GoldSessions/Aggregate").droppedLate).toBe(0);

    const key = (r: Record<string, unknown>) =>
      `${r.tenant_id}|${r.user_id}|${r.session_start}|${r.session_end}|${r.event_count}`;
    const reference = (await warehouse.query(REFERENCE_SESSIONS)).map(key).sort();
    const gold = (
      await warehouse.query("SELECT tenant_id, user_id, session_start, session_end, event_count FROM gold_sessions")
    )
      .map(key)
      .sort();
    expect(reference.length).toBeGreaterThan(50);
    expect(gold).toEqual(reference);

    const counts = await warehouse.counts();
    expect(counts.bronze_messages).toBe(1480);
    expect(counts.silver_events).toBe(1430);
    const invalid = await warehouse.query("SELECT count(*) AS n FROM bronze_messages WHERE NOT valid");
    expect(invalid[0]?.n).toBe(14);
    const notFinal = await warehouse.query("SELECT count(*) AS n FROM gold_sessions WHERE NOT is_final");
    expect(notFinal[0]?.n).toBe(0);
    await warehouse.close();
  });
});
