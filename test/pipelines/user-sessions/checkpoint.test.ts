import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import { fixtureFileSource } from "../../../io/test-stream/jsonl.ts";
import type { Warehouse } from "../../../io/warehouse.ts";
import { runMedallion } from "../../../pipelines/user-sessions/run.ts";
import { CheckpointStore } from "../../../runners/direct/checkpoint-store.ts";
import type { RawMessage } from "../../../schemas/event.ts";
import { TABLES } from "../../../schemas/tables.ts";

const FIXTURE = "test/fixtures/events-small.jsonl";
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function snapshot(w: Warehouse): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const t of TABLES) out[t.name] = await w.query(`SELECT * FROM ${t.name} ORDER BY ALL`);
  return out;
}

class Crash extends Error {}

describe("runMedallion with checkpoints", () => {
  it.each([0, 300, 900])(
    "crashed after %i steps and resumed from its last checkpoint, it ends with the tables of an uninterrupted run",
    async (crashAt) => {
      const whole = await DuckDbWarehouse.create(":memory:");
      await whole.open();
      await runMedallion(fixtureFileSource<RawMessage>(FIXTURE), whole, {}, { flushRows: 100 });
      const expected = await snapshot(whole);
      await whole.close();

      const dir = mkdtempSync(join(tmpdir(), "tidemark-ckpt-run-"));
      dirs.push(dir);
      const w = await DuckDbWarehouse.create(":memory:");
      await w.open();
      // Checkpoint at every flush (every 100 rows), then crash mid-stream.
      const first = runMedallion(
        fixtureFileSource<RawMessage>(FIXTURE),
        w,
        {},
        {
          flushRows: 100,
          checkpointDir: dir,
          checkpointIntervalMs: 0,
          // At step crashAt, or the first step after it by which a checkpoint is written (commits run beside the
          // steps; how many steps one takes depends on the machine).
          onStep: (running, index) => {
            if (index >= crashAt && (crashAt === 0 || running.commitStats().checkpoints > 0)) {
              throw new Crash(`crash at step ${index}`);
            }
          },
        },
      );
      await expect(first).rejects.toThrow(Crash);
      const store = new CheckpointStore(dir);
      const resumedFrom = store.latest()?.seq;
      // Step 0 comes before the first checkpoint (the runner commits after a step): that run starts from the beginning.
      if (crashAt >= 300) expect(resumedFrom).toBeGreaterThan(0);
      else expect(resumedFrom).toBeUndefined();

      const second = await runMedallion(
        fixtureFileSource<RawMessage>(FIXTURE),
        w,
        {},
        {
          flushRows: 100,
          checkpointDir: dir,
          checkpointIntervalMs: 0,
        },
      );
      expect(second.resumedFrom).toBe(resumedFrom);
      expect(await snapshot(w)).toEqual(expected);
      // A clean end removes the checkpoints: the next run starts afresh.
      expect(store.sequences()).toEqual([]);
      await w.close();
    },
  );

  it("refuses a checkpoint of another pipeline, naming the steps", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tidemark-ckpt-other-"));
    dirs.push(dir);
    new CheckpointStore(dir).write(1, {
      sessions: { upserts: [], deletes: [] },
      runner: {
        version: 1,
        steps: ["Read", "Other"],
        sourceEvents: 0,
        processingTime: 0,
        sources: [],
        stages: [],
        views: [],
        counters: [],
      },
    });
    const w = await DuckDbWarehouse.create(":memory:");
    await w.open();
    await expect(runMedallion(fixtureFileSource<RawMessage>(FIXTURE), w, {}, { checkpointDir: dir })).rejects.toThrow(
      "the checkpoint was taken from another pipeline (its steps: Read, Other;",
    );
    await w.close();
  });
  it("refuses a checkpoint whose Silver state is keyed by event id alone (an earlier version's), naming the state", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tidemark-ckpt-silver-"));
    dirs.push(dir);
    const w = await DuckDbWarehouse.create(":memory:");
    await w.open();
    await expect(
      runMedallion(
        fixtureFileSource<RawMessage>(FIXTURE),
        w,
        {},
        {
          flushRows: 100,
          checkpointDir: dir,
          checkpointIntervalMs: 0,
          onStep: (running, index) => {
            if (index >= 300 && running.commitStats().checkpoints > 0) throw new Crash(`crash at step ${index}`);
          },
        },
      ),
    ).rejects.toThrow(Crash);
    // The same checkpoint as the version before tenants were part of Silver's key would have written it: the
    // de-duplication state under its names then, "firstSeen" and "order" (the layout is the same).
    const store = new CheckpointStore<{ runner: { stages: unknown[] } }>(dir);
    const latest = store.latest();
    if (latest === undefined) throw new Error("no checkpoint was written before the crash");
    type Slot = { cells: Record<string, unknown> };
    let renamed = 0;
    for (const stage of latest.state.runner.stages) {
      for (const slot of ((stage as { slots?: Slot[] } | null)?.slots ?? []) as Slot[]) {
        const { tenantFirstSeen, tenantOrder, ...rest } = slot.cells;
        if (tenantFirstSeen === undefined) continue;
        slot.cells = { firstSeen: tenantFirstSeen, order: tenantOrder, ...rest };
        renamed++;
      }
    }
    expect(renamed).toBeGreaterThan(0);
    store.write(latest.seq + 1, latest.state);
    await expect(
      runMedallion(fixtureFileSource<RawMessage>(FIXTURE), w, {}, { flushRows: 100, checkpointDir: dir }),
    ).rejects.toThrow('checkpoint has state "firstSeen" that the DoFn does not declare');
    await w.close();
  });
});
