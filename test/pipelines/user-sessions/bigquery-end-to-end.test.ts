import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import { fixtureFileSource } from "../../../io/test-stream/jsonl.ts";
import type { Warehouse } from "../../../io/warehouse.ts";
import { runMedallion } from "../../../pipelines/user-sessions/run.ts";
import { StepError } from "../../../runners/fn/step-error.ts";
import type { RawMessage } from "../../../schemas/event.ts";
import { DATASET, tablesOf, useBigQueryEmulator } from "../../io/bigquery/emulator-fixture.ts";

const FIXTURE = "test/fixtures/events-small.jsonl";
const bq = useBigQueryEmulator();
const dir = mkdtempSync(join(tmpdir(), "tidemark-bq-e2e-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The fixture's tables from an uninterrupted run into DuckDB, the reference. */
async function duckdbTables() {
  const duck = await DuckDbWarehouse.create(":memory:");
  await duck.open();
  await runMedallion(fixtureFileSource<RawMessage>(FIXTURE), duck, {}, { flushRows: 400 });
  const tables = await tablesOf(duck);
  await duck.close();
  return tables;
}

class Crash extends Error {}

/** The pipeline's command line on the fixture into the emulator's dataset, as a child process. */
function cli(extra: readonly string[]) {
  const e = bq.emulator();
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "pipelines/user-sessions/cli.ts",
      `--input=${FIXTURE}`,
      `--warehouse=bigquery://${e.projectId}/${DATASET}`,
      `--bigquery-endpoint=${e.apiEndpoint}`,
      `--bigquery-storage-endpoint=${e.grpcEndpoint}`,
      ...extra,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let text = "";
  child.stdout.on("data", (b: Buffer) => {
    text += b.toString();
  });
  child.stderr.on("data", (b: Buffer) => {
    text += b.toString();
  });
  const exit = new Promise<{ code: number | null; signal: string | null; text: string }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal, text })),
  );
  return { child, exit };
}

/** `w` whose `nth` write (of any kind) commits and then throws, as a process killed before it heard back. */
function crashingAfterWrite(w: Warehouse, nth: number): Warehouse {
  let writes = 0;
  const after = async <T>(write: Promise<T>): Promise<T> => {
    const result = await write;
    if (++writes === nth) throw new Crash(`killed after write ${nth}`);
    return result;
  };
  return {
    open: () => w.open(),
    appendBronze: (rows) => after(w.appendBronze(rows)),
    appendSilver: (rows) => after(w.appendSilver(rows)),
    appendTyped: (type, rows) => after(w.appendTyped(type, rows)),
    writeSessions: (upserts, deletes) => after(w.writeSessions(upserts, deletes)),
    upsertHourly: (rows) => after(w.upsertHourly(rows)),
    counts: () => w.counts(),
    query: (sql) => w.query(sql),
    close: () => w.close(),
  };
}

describe("the medallion pipeline into BigQuery (emulator)", () => {
  it("the fixture stream gives the Bronze, Silver and Gold tables of the DuckDB run, with both append methods", async () => {
    const expected = await duckdbTables();
    expect(expected.gold_sessions?.length).toBeGreaterThan(100);
    for (const method of ["storage-write", "insert-all"] as const) {
      const w = await bq.warehouse(method);
      await runMedallion(fixtureFileSource<RawMessage>(FIXTURE), w, {}, { flushRows: 400 });
      expect(await tablesOf(w), method).toEqual(expected);
    }
  }, 180_000);

  it.each([1, 6])(
    "killed after write %i committed, resumed from its checkpoint: no duplicate, the same tables",
    async (nth) => {
      const expected = await duckdbTables();
      const w = await bq.warehouse();
      const checkpointDir = join(dir, `ckpt-${nth}`);
      const options = { flushRows: 100, checkpointDir, checkpointIntervalMs: 0 };
      // The write's failure ends the run as a StepError naming the sink, caused by the crash.
      const crashed = await runMedallion(
        fixtureFileSource<RawMessage>(FIXTURE),
        crashingAfterWrite(w, nth),
        {},
        options,
      )
        .then(() => undefined)
        .catch((e: unknown) => e);
      expect(crashed).toBeInstanceOf(StepError);
      expect((crashed as StepError).cause).toBeInstanceOf(Crash);
      // The killed run committed part of the stream; the resumed one writes much of it again, under the same keys.
      const partial = (await w.counts()).bronze_messages as number;
      expect(partial).toBeGreaterThan(0);
      expect(partial).toBeLessThan(1480);
      const resumed = await runMedallion(fixtureFileSource<RawMessage>(FIXTURE), w, {}, options);
      // Write 1 (Bronze's first batch) comes before the first checkpoint, which is written only once it has settled: that
      // run starts over. By write 6 the first checkpoint is written (after writes 1 and 2, Bronze and Silver of the first
      // commit). With batches of at most 100 rows, six writes hold at most 600 of the 1480 messages.
      if (nth === 1) expect(resumed.resumedFrom).toBeUndefined();
      else expect(resumed.resumedFrom).toBeGreaterThan(0);
      expect(await tablesOf(w)).toEqual(expected);
    },
    180_000,
  );

  it("killed with SIGKILL during its writes and restarted from its checkpoint (command line): the DuckDB run's tables", async () => {
    const expected = await duckdbTables();
    const w = await bq.warehouse();
    const checkpointDir = join(dir, "ckpt-sigkill");
    const first = cli(["--checkpoint-dir", checkpointDir, "--checkpoint-seconds=0.2", "--batch-rows=150"]);
    // Killed a random moment after its first checkpoint, while batches are still being written.
    const deadline = Date.now() + 60_000;
    while (!existsSync(checkpointDir) || !readdirSync(checkpointDir).some((f) => f.startsWith("checkpoint-"))) {
      if (Date.now() > deadline) throw new Error("no checkpoint within 60 s");
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 1_000)));
    first.child.kill("SIGKILL");
    const killed = await first.exit;
    expect(killed.signal, killed.text).toBe("SIGKILL");
    const partial = (await w.counts()).bronze_messages as number;
    // A checkpoint is written after its batch is committed: part of the stream is in, not all.
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(1480);
    const second = await cli(["--checkpoint-dir", checkpointDir, "--checkpoint-seconds=0.2", "--batch-rows=150"]).exit;
    expect(second.code, second.text).toBe(0);
    expect(second.text).toContain("(resumed from checkpoint");
    expect(await tablesOf(w)).toEqual(expected);
  }, 180_000);

  it("runs from the command line: --warehouse=bigquery://PROJECT/DATASET", async () => {
    const w = await bq.warehouse();
    const e = bq.emulator();
    const out = await cli([]).exit;
    expect(out.code, out.text).toBe(0);
    expect(out.text).toContain(`into bigquery://${e.projectId}/${DATASET}`);
    expect(out.text).toMatch(/rows: bronze_messages 1480, silver_events \d+, gold_sessions \d+/);
    expect((await w.counts()).bronze_messages).toBe(1480);
  }, 120_000);
});
