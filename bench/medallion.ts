/**
 * The medallion benchmark's child: generates a user-event stream of about `--events` messages (the generator of
 * `npm run generate`: sessions, funnels, late mobile batches, duplicates, malformed payloads), then runs the whole
 * medallion pipeline (Bronze, Silver, Gold sessions and hourly rows) on the direct runner into a fresh DuckDB file
 * and prints one result line. Generating the stream's lines is not timed; parsing them (lazily, as from a file), the
 * run, every warehouse write, the final commit and closing the file (DuckDB's last checkpoint) are.
 *
 * `--floor`: instead of the pipeline, a hand-written loop doing only the work every implementation of the medallion
 * must do per message, whatever its engine: read the fixture line, parse and validate the payload (the pipeline's own
 * `parseEvent`), build the Bronze row and, for a valid event, check its id against a map and build the Silver row.
 * No windows, no Gold, no state beyond the map (never swept), no warehouse: its rate bounds from above the rate of
 * any medallion on this machine, so it says what share of the engine-only rate is reachable at all.
 *
 * `--parse-floor`: less still, the one thing no implementation can skip whatever its code: `JSON.parse` of each line
 * of the stream and of each message's payload (a payload must be parsed to be validated, and the stream's format is
 * JSON lines). No validation, no rows, no objects of its own. Its rate is a hard ceiling for one core of this machine.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDbWarehouse } from "../io/duckdb/duckdb-warehouse.ts";
import type { Warehouse } from "../io/warehouse.ts";
import { fixtureLinesSource } from "../io/test-stream/jsonl.ts";
import { stepMetrics } from "../runners/direct/metrics.ts";
import type { Source } from "../core/source.ts";
import { parseEvent, type RawMessage } from "../schemas/event.ts";
import type { BronzeRow, SilverRow } from "../schemas/rows.ts";
import { bronzeRow } from "../pipelines/user-sessions/bronze.ts";
import { silverRow } from "../pipelines/user-sessions/silver.ts";
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
  if (process.argv.includes("--parse-floor")) {
    const started = performance.now();
    const counts = parseFloorLoop(lines);
    report(counts.messages, performance.now() - started, {}, counts.notJson);
    return;
  }
  if (process.argv.includes("--floor")) {
    const started = performance.now();
    const counts = floorLoop(stream);
    const rows = { bronze_messages: counts.bronze, silver_events: counts.silver };
    report(counts.messages, performance.now() - started, rows, counts.deadLettered);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "tidemark-bench-"));
  try {
    // --duckdb-memory-mib / --duckdb-checkpoint-mb: DuckDB's settings, to weigh their memory against their speed
    // (absent: the warehouse's defaults, as the command line runs it).
    const memoryLimitMb = arg("duckdb-memory-mib", 0);
    const checkpointThresholdMb = arg("duckdb-checkpoint-mb", 0);
    const warehouse = discard
      ? discardingWarehouse()
      : await DuckDbWarehouse.create(join(dir, "bench.duckdb"), {
          ...(memoryLimitMb > 0 ? { memoryLimitMb } : {}),
          ...(checkpointThresholdMb > 0 ? { checkpointThresholdMb } : {}),
        });
    await warehouse.open();
    const started = performance.now();
    const run = await runMedallion(stream, warehouse, {});
    const rows = await warehouse.counts();
    // Timed until the warehouse is closed: its last checkpoint (the log folded into the file) is part of the work.
    await warehouse.close();
    const elapsedMs = performance.now() - started;
    report(stepMetrics(run.metrics, "Read").elementsOut, elapsedMs, rows, run.written.deadLetter);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Prints the result line bench/run.ts reads. */
function report(messages: number, elapsedMs: number, rows: Record<string, number>, deadLettered: number): void {
  const result: MedallionResult = {
    messages,
    elapsedMs,
    rows,
    deadLettered,
    maxRssKiB: process.resourceUsage().maxRSS,
  };
  process.stdout.write(RESULT_MARKER + JSON.stringify(result) + "\n");
}

/** Rows held before they are dropped, as the pipeline's buffer holds them until a write (FLUSH_ROWS). */
const FLOOR_BATCH_ROWS = 50_000;

/** The floor: the per-message work no medallion can skip (see the header), in one loop over the source. */
function floorLoop(stream: Source<RawMessage>) {
  const reader = stream.open();
  const firstSeen = new Map<string, number>();
  let bronzeRows: BronzeRow[] = [];
  let silverRows: SilverRow[] = [];
  let watermark = Number.NEGATIVE_INFINITY;
  let processingTime = Number.NEGATIVE_INFINITY;
  const counts = { messages: 0, bronze: 0, silver: 0, deadLettered: 0 };
  for (;;) {
    const ev = reader.next();
    if (ev === undefined) break;
    if (ev instanceof Promise) throw new Error("the floor loop reads a synchronous source (a fixture stream)");
    if (ev.kind === "watermark") watermark = ev.watermark;
    else if (ev.kind === "processingTime") processingTime = ev.time;
    else {
      for (const message of ev.values) {
        counts.messages++;
        const ingestTime = Number.isFinite(processingTime) ? processingTime : message.publishTime;
        const parsed = parseEvent(message.data);
        bronzeRows.push(bronzeRow(message, parsed, ingestTime));
        if (!parsed.ok) {
          counts.deadLettered++;
          continue;
        }
        const id = parsed.event.event_id;
        if (firstSeen.has(id)) continue;
        firstSeen.set(id, ingestTime);
        silverRows.push(silverRow({ message, event: parsed.event, ingestTime }, watermark));
      }
      if (bronzeRows.length >= FLOOR_BATCH_ROWS) {
        counts.bronze += bronzeRows.length;
        counts.silver += silverRows.length;
        bronzeRows = [];
        silverRows = [];
      }
    }
  }
  counts.bronze += bronzeRows.length;
  counts.silver += silverRows.length;
  return counts;
}

/**
 * The parse floor (see the header): `JSON.parse` of every stream line and of every message payload, nothing more.
 * Counts the messages and the payloads that are not JSON (so the parsed values are used and the work is not dead).
 */
function parseFloorLoop(lines: readonly string[]) {
  const counts = { messages: 0, notJson: 0 };
  for (const line of lines) {
    if (line.length === 0 || line.charCodeAt(0) === 35 /* '#': a comment */) continue;
    const ev = JSON.parse(line) as { input?: { value: { data: string } }[] };
    const input = ev.input;
    if (input === undefined) continue;
    for (let i = 0; i < input.length; i++) {
      counts.messages++;
      try {
        if (typeof JSON.parse((input[i] as { value: { data: string } }).value.data) !== "object") counts.notJson++;
      } catch {
        counts.notJson++;
      }
    }
  }
  return counts;
}

/** A warehouse that takes every write and keeps nothing (its counts are empty). */
function discardingWarehouse(): Warehouse {
  const done = async () => undefined;
  return {
    open: done,
    appendBronze: done,
    appendSilver: done,
    appendTyped: done,
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
