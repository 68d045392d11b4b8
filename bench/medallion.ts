/**
 * The medallion benchmark's child: generates a user-event stream of about `--events` messages (the generator of
 * `npm run generate`: sessions, funnels, late mobile batches, duplicates, malformed payloads), then runs the whole
 * medallion pipeline (Bronze, Silver, Gold sessions and hourly rows) on the direct runner into a fresh DuckDB file
 * and prints one result line. Generating the stream's lines is not timed; parsing them (lazily, as from a file), the
 * run, every warehouse write and the final commit are.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDbWarehouse } from "../io/duckdb/duckdb-warehouse.ts";
import type { Warehouse } from "../io/warehouse.ts";
import { fixtureLinesSource } from "../io/test-stream/jsonl.ts";
import { stepMetrics } from "../runners/direct/metrics.ts";
import type { RawMessage } from "../schemas/event.ts";
import { generateStream } from "../pipelines/user-sessions/generate.ts";
import { runMedallion } from "../pipelines/user-sessions/run.ts";
import { type MedallionResult, RESULT_MARKER } from "./child-result.ts";

/** Messages per generated user, on average (3 to 10 sessions of a few to a few dozen events). */
const MESSAGES_PER_USER = 53;

async function main(): Promise<void> {
  const arg = (name: string, fallback: number): number => {
    const raw = process.argv.find((a) => a.startsWith(`--${name}=`));
    return raw === undefined ? fallback : Number(raw.slice(name.length + 3).replaceAll("_", ""));
  };
  const events = arg("events", 1_000_000);
  // --warehouse=none: the same pipeline with every write discarded (the pipeline-only rate, the warehouse's baseline).
  const discard = process.argv.includes("--warehouse=none");
  const seed = arg("seed", 42);
  const users = Math.max(1, Math.round(events / MESSAGES_PER_USER));
  // The stream's lines are generated before the clock starts; parsing them is part of the run, as when reading a file.
  const lines = [...generateStream({ users, seed })];
  const stream = fixtureLinesSource<RawMessage>("bench", () => lines);
  const dir = mkdtempSync(join(tmpdir(), "tidemark-bench-"));
  try {
    const warehouse = discard ? discardingWarehouse() : await DuckDbWarehouse.create(join(dir, "bench.duckdb"));
    await warehouse.open();
    const run = await runMedallion(stream, warehouse, {});
    const rows = await warehouse.counts();
    await warehouse.close();
    const result: MedallionResult = {
      messages: stepMetrics(run.metrics, "Read").elementsOut,
      elapsedMs: run.elapsedMs,
      rows,
      deadLettered: run.written.deadLetter,
      maxRssKiB: process.resourceUsage().maxRSS,
    };
    process.stdout.write(RESULT_MARKER + JSON.stringify(result) + "\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A warehouse that takes every write and keeps nothing (its counts are empty). */
function discardingWarehouse(): Warehouse {
  const done = async () => undefined;
  return {
    open: done,
    appendBronze: done,
    appendSilver: done,
    writeSessions: done,
    upsertHourly: done,
    counts: async () => ({}),
    query: async () => [],
    close: done,
  };
}

main().catch((error: unknown) => {
  process.stderr.write(
    `[bench medallion] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
