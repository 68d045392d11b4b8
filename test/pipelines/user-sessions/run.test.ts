import { describe, expect, it } from "vitest";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import { fixtureFileSource } from "../../../io/test-stream/jsonl.ts";
import type { Warehouse } from "../../../io/warehouse.ts";
import { runMedallion } from "../../../pipelines/user-sessions/run.ts";
import { stepMetrics } from "../../../runners/direct/metrics.ts";
import type { RawMessage } from "../../../schemas/event.ts";
import { TABLES } from "../../../schemas/tables.ts";

const FIXTURE = "test/fixtures/events-small.jsonl";

/** Every table's rows, in a stable order. */
async function snapshot(w: Warehouse): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const t of TABLES) out[t.name] = await w.query(`SELECT * FROM ${t.name} ORDER BY ALL`);
  return out;
}

describe("runMedallion: batched writes with backpressure", () => {
  it("small batches give the same tables as one batch, and the runner never runs more than two batches ahead", async () => {
    const whole = await DuckDbWarehouse.create(":memory:");
    await whole.open();
    await runMedallion(fixtureFileSource<RawMessage>(FIXTURE), whole, {}, { flushRows: 1_000_000 });

    const batched = await DuckDbWarehouse.create(":memory:");
    await batched.open();
    let committed = 0;
    let bronzeWrites = 0;
    const appendBronze = batched.appendBronze.bind(batched);
    batched.appendBronze = async (rows) => {
      bronzeWrites++;
      await appendBronze(rows);
      // A slow warehouse: the write completes a few event-loop turns later.
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
      committed += rows.length;
    };
    const flushRows = 60;
    let maxAhead = 0;
    const run = await runMedallion(
      fixtureFileSource<RawMessage>(FIXTURE),
      batched,
      {},
      {
        onStep: (running) => {
          const read = stepMetrics(running.metrics(), "Read").elementsOut;
          maxAhead = Math.max(maxAhead, read - committed);
        },
        flushRows,
      },
    );
    expect(stepMetrics(run.metrics, "Read").elementsOut).toBe(1480);
    expect(bronzeWrites).toBeGreaterThan(10);
    // Without backpressure the whole fixture would be read before the first write completes (1480 ahead). Each row
    // (Bronze, Silver, Gold) counts toward a batch, so two batches hold at most 2 * flushRows messages, plus a bundle.
    expect(maxAhead).toBeLessThanOrEqual(2 * flushRows + 20);
    expect(await snapshot(batched)).toEqual(await snapshot(whole));
    await whole.close();
    await batched.close();
  });

  it("a failing write stops the run with the warehouse's error", async () => {
    const w = await DuckDbWarehouse.create(":memory:");
    await w.open();
    w.appendSilver = async () => {
      throw new Error("warehouse is full");
    };
    await expect(runMedallion(fixtureFileSource<RawMessage>(FIXTURE), w, {}, { flushRows: 50 })).rejects.toThrow(
      "warehouse is full",
    );
    await w.close();
  });
});
