import { parseArgs } from "node:util";
import { hours, minutes, seconds } from "../../core/time/duration.ts";
import { formatInstant } from "../../core/time/instant.ts";
import { DuckDbWarehouse } from "../../io/duckdb/duckdb-warehouse.ts";
import { fixtureFileSource } from "../../io/test-stream/jsonl.ts";
import type { Warehouse } from "../../io/warehouse.ts";
import { stepMetrics } from "../../runners/direct/metrics.ts";
import type { RawMessage } from "../../schemas/event.ts";
import { runMedallion } from "./run.ts";

const HELP = `Usage: npm run pipeline -- [options]

Runs the user-sessions medallion pipeline (Bronze, Silver, Gold) over a fixture stream into a warehouse.

  --runner=direct                 the in-process streaming runner (default); "dataflow" is not available yet
  --input=FILE                    fixture stream, JSON Lines (default test/fixtures/events-small.jsonl)
  --warehouse=duckdb:PATH         embedded DuckDB file (default duckdb:./data/tidemark.duckdb)
  --gap-minutes=N                 session gap (default 30)
  --lateness-hours=N              allowed lateness for sessions and hourly rows (default 24)
  --early-seconds=N               early panes of a running session after N s of processing time (default 5)
  --dedup-hours=N                 how long an event id is remembered to drop re-deliveries (default 24)
  --help

Each option can also be set in the environment: TIDEMARK_RUNNER, TIDEMARK_INPUT, TIDEMARK_WAREHOUSE,
TIDEMARK_GAP_MINUTES, TIDEMARK_LATENESS_HOURS, TIDEMARK_EARLY_SECONDS, TIDEMARK_DEDUP_HOURS.`;

function option(values: Record<string, string | boolean | undefined>, name: string): string | undefined {
  const v = values[name];
  if (typeof v === "string") return v;
  return process.env[`TIDEMARK_${name.toUpperCase().replaceAll("-", "_")}`];
}

function positive(values: Record<string, string | boolean | undefined>, name: string, fallback: number): number {
  const raw = option(values, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return n;
}

async function openWarehouse(spec: string): Promise<Warehouse> {
  if (spec.startsWith("duckdb:")) return DuckDbWarehouse.create(spec.slice("duckdb:".length));
  if (spec.startsWith("bigquery://"))
    throw new Error("--warehouse=bigquery://... comes with the BigQuery issue; use duckdb:PATH for now");
  throw new Error(`--warehouse must be duckdb:PATH, got ${JSON.stringify(spec)}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runner: { type: "string" },
      input: { type: "string" },
      warehouse: { type: "string" },
      "gap-minutes": { type: "string" },
      "lateness-hours": { type: "string" },
      "early-seconds": { type: "string" },
      "dedup-hours": { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const runner = option(values, "runner") ?? "direct";
  if (runner === "dataflow") {
    throw new Error(
      "--runner=dataflow needs the portable runner and a Google Cloud project (a later issue); run with --runner=direct",
    );
  }
  if (runner !== "direct") throw new Error(`--runner must be direct or dataflow, got ${JSON.stringify(runner)}`);
  const input = option(values, "input") ?? "test/fixtures/events-small.jsonl";
  const warehouseSpec = option(values, "warehouse") ?? "duckdb:./data/tidemark.duckdb";
  const opts = {
    gapMs: minutes(positive(values, "gap-minutes", 30)),
    allowedLatenessMs: hours(positive(values, "lateness-hours", 24)),
    earlyFiringMs: seconds(positive(values, "early-seconds", 5)),
    dedupHorizonMs: hours(positive(values, "dedup-hours", 24)),
  };

  const stream = fixtureFileSource<RawMessage>(input);
  const warehouse = await openWarehouse(warehouseSpec);
  await warehouse.open();
  const tty = process.stdout.isTTY === true;
  const run = await runMedallion(stream, warehouse, opts, (running, index, started) => {
    if (tty && index % 20 === 0) {
      const m = running.metrics();
      const read = stepMetrics(m, "Read");
      const agg = stepMetrics(m, "GoldSessions/Aggregate");
      const rate = read.elementsOut / ((performance.now() - started) / 1000);
      process.stdout.write(
        `\r${read.elementsOut} messages, watermark ${formatInstant(read.outputWatermark)}, ` +
          `${agg.windows ?? 0} sessions open, ${Math.round(rate)} msg/s   `,
      );
    }
  });
  const { metrics, written } = run;
  if (tty) process.stdout.write("\n");
  const counts = await warehouse.counts();
  const seconds_ = run.elapsedMs / 1000;
  const read = stepMetrics(metrics, "Read");
  const sessions = stepMetrics(metrics, "GoldSessions/Aggregate");
  const hourly = stepMetrics(metrics, "GoldHourly/Aggregate");
  process.stdout.write(
    [
      `${read.elementsOut} messages in ${seconds_.toFixed(1)} s into ${warehouseSpec}`,
      `rows: ${Object.entries(counts)
        .map(([t, n]) => `${t} ${n}`)
        .join(", ")}`,
      `dead-lettered: ${written.deadLetter}; sessions merged away: ${written.sessionDeletes}`,
      `too late for Gold (beyond allowed lateness, kept in Bronze and Silver): sessions ${sessions.droppedLate}, hourly ${hourly.droppedLate}`,
      "",
      "A few Gold sessions:",
    ].join("\n") + "\n",
  );
  const rows = await warehouse.query(
    "SELECT tenant_id, user_id, session_start, duration_ms, event_count, revenue, funnel_steps, converted, pane_timing, is_final " +
      "FROM gold_sessions ORDER BY revenue DESC, event_count DESC LIMIT 5",
  );
  for (const r of rows) process.stdout.write(`  ${JSON.stringify(r)}\n`);
  await warehouse.close();
}

main().catch((e) => {
  process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
