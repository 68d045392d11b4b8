import type { PubSub } from "@google-cloud/pubsub";
import { parseArgs } from "node:util";
import { pubsubClient } from "../../io/pubsub/client.ts";
import type { Source } from "../../core/source.ts";
import { hours, minutes, seconds } from "../../core/time/duration.ts";
import { formatInstant } from "../../core/time/instant.ts";
import { BigQueryWarehouse } from "../../io/bigquery/bigquery-warehouse.ts";
import { DuckDbWarehouse } from "../../io/duckdb/duckdb-warehouse.ts";
import { PubsubPublisher } from "../../io/pubsub/pubsub-sink.ts";
import { type PubsubSourceStats, pubsubSource } from "../../io/pubsub/pubsub-source.ts";
import { fixtureFileSource } from "../../io/test-stream/jsonl.ts";
import type { Warehouse } from "../../io/warehouse.ts";
import { stepMetrics } from "../../runners/direct/metrics.ts";
import type { RawMessage } from "../../schemas/event.ts";
import { withInsightsFeed } from "./insights-feed.ts";
import { runMedallion } from "./run.ts";

const HELP = `Usage: npm run pipeline -- [options]

Runs the user-sessions medallion pipeline (Bronze, Silver, Gold) over a fixture stream or a Pub/Sub
subscription into a warehouse.

  --runner=direct                 the in-process streaming runner (default); "dataflow" is not available yet
  --input=FILE                    fixture stream, JSON Lines (default test/fixtures/events-small.jsonl)
  --input=pubsub://projects/P/subscriptions/S
                                  a Pub/Sub subscription (or pubsub://projects/P/topics/T: a temporary
                                  subscription); runs until SIGINT/SIGTERM, then drains: every window fires its
                                  final pane, is written, and the messages are acknowledged
  --pubsub-endpoint=HOST:PORT     Pub/Sub endpoint, e.g. the emulator's (default $PUBSUB_EMULATOR_HOST, else Google)
  --timestamp-attribute=NAME      Pub/Sub: event time from this attribute (default the publish time)
  --id-attribute=NAME             Pub/Sub: de-duplicate re-publications by this attribute (default the message id)
  --stop-when-idle=SECONDS        Pub/Sub: drain after this long without a message (default: run until stopped)
  --max-messages=N                Pub/Sub: drain once N messages have been read in all (counted across resumes from
                                  checkpoints, re-deliveries once), as Beam's withMaxNumRecords bounds a read
  --insights-topic=pubsub://projects/P/topics/T
                                  also publish every committed Gold session change to this topic (a dashboard feed)
  --checkpoint-dir=DIR            checkpoint the runner's whole state here (after the warehouse commits, before
                                  messages are acknowledged) and resume from it after a crash
  --checkpoint-seconds=N          how often to checkpoint (default 5)
  --batch-rows=N                  rows per warehouse batch: a batch is written when it holds N rows, or after 1 s
                                  (default 50000)
  --lease-seconds=N               Pub/Sub: deadline of each lease extension, how soon the messages of a crashed run
                                  come back (10 to 600; default the client's)
  --warehouse=duckdb:PATH         embedded DuckDB file (default duckdb:./data/tidemark.duckdb)
  --warehouse=bigquery://PROJECT/DATASET
                                  BigQuery: tables created (or evolved) from the schemas; Bronze and Silver
                                  appended, Gold upserted, each idempotently (see io/bigquery)
  --bigquery-endpoint=URL         BigQuery REST endpoint, e.g. the emulator's http://127.0.0.1:9050 (default Google)
  --bigquery-storage-endpoint=HOST:PORT
                                  the Storage Write API over plaintext gRPC, e.g. the emulator's (default Google)
  --bigquery-append=METHOD        storage-write (default, the Storage Write API) or insert-all
  --gap-minutes=N                 session gap (default 30)
  --lateness-hours=N              allowed lateness for sessions and hourly rows (default 24)
  --early-seconds=N               early panes of a running session after N s of processing time (default 5)
  --dedup-hours=N                 how long an event id is remembered to drop re-deliveries (default 24)
  --help

Each option can also be set in the environment: TIDEMARK_RUNNER, TIDEMARK_INPUT, TIDEMARK_WAREHOUSE,
TIDEMARK_GAP_MINUTES, TIDEMARK_LATENESS_HOURS, TIDEMARK_EARLY_SECONDS, TIDEMARK_DEDUP_HOURS, TIDEMARK_PUBSUB_ENDPOINT,
TIDEMARK_TIMESTAMP_ATTRIBUTE, TIDEMARK_ID_ATTRIBUTE, TIDEMARK_STOP_WHEN_IDLE, TIDEMARK_MAX_MESSAGES,
TIDEMARK_LEASE_SECONDS, TIDEMARK_INSIGHTS_TOPIC, TIDEMARK_CHECKPOINT_DIR, TIDEMARK_CHECKPOINT_SECONDS,
TIDEMARK_BATCH_ROWS, TIDEMARK_BIGQUERY_ENDPOINT, TIDEMARK_BIGQUERY_STORAGE_ENDPOINT, TIDEMARK_BIGQUERY_APPEND.`;

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

async function openWarehouse(spec: string, values: Record<string, string | boolean | undefined>): Promise<Warehouse> {
  if (spec.startsWith("duckdb:")) return DuckDbWarehouse.create(spec.slice("duckdb:".length));
  if (spec.startsWith("bigquery://")) {
    const { projectId, dataset } = BigQueryWarehouse.parseSpec(spec);
    const apiEndpoint = option(values, "bigquery-endpoint");
    const storageEndpoint = option(values, "bigquery-storage-endpoint");
    const append = option(values, "bigquery-append") ?? "storage-write";
    if (append !== "storage-write" && append !== "insert-all") {
      throw new Error(`--bigquery-append must be storage-write or insert-all, got ${JSON.stringify(append)}`);
    }
    // An emulator has no metadata server to ask for credentials.
    if (apiEndpoint !== undefined) process.env.METADATA_SERVER_DETECTION ??= "none";
    return new BigQueryWarehouse({
      projectId,
      dataset,
      appendMethod: append,
      ...(apiEndpoint === undefined ? {} : { apiEndpoint }),
      ...(storageEndpoint === undefined ? {} : { storageEndpoint }),
    });
  }
  throw new Error(`--warehouse must be duckdb:PATH or bigquery://PROJECT/DATASET, got ${JSON.stringify(spec)}`);
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
      "pubsub-endpoint": { type: "string" },
      "timestamp-attribute": { type: "string" },
      "id-attribute": { type: "string" },
      "stop-when-idle": { type: "string" },
      "max-messages": { type: "string" },
      "bigquery-endpoint": { type: "string" },
      "bigquery-storage-endpoint": { type: "string" },
      "bigquery-append": { type: "string" },
      "lease-seconds": { type: "string" },
      "insights-topic": { type: "string" },
      "checkpoint-dir": { type: "string" },
      "checkpoint-seconds": { type: "string" },
      "batch-rows": { type: "string" },
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

  const drain = new AbortController();
  let idle: { readonly seconds: number; received: () => number; last: number; lastAt: number } | undefined;
  let stream: Source<RawMessage>;
  let pubsub: PubSub | undefined;
  let pubsubStats: (() => PubsubSourceStats) | undefined;
  if (input.startsWith("pubsub://")) {
    const m = /^pubsub:\/\/projects\/([^/]+)\/(subscriptions|topics)\/([^/]+)$/.exec(input);
    if (m === null) {
      throw new Error(
        `--input=pubsub://... must be pubsub://projects/P/subscriptions/S or pubsub://projects/P/topics/T, got ${input}`,
      );
    }
    const [, projectId, kind, name] = m as unknown as [string, string, string, string];
    const endpoint = option(values, "pubsub-endpoint");
    pubsub = pubsubClient(projectId, endpoint);
    const source = pubsubSource({
      pubsub,
      ...(kind === "subscriptions" ? { subscription: name } : { topic: name }),
      ...optional("timestampAttribute", option(values, "timestamp-attribute")),
      ...optional("idAttribute", option(values, "id-attribute")),
      signal: drain.signal,
      ...(option(values, "lease-seconds") === undefined
        ? {}
        : { leaseDeadlineSeconds: positive(values, "lease-seconds", 60) }),
    });
    stream = source;
    pubsubStats = () => source.stats();
    const idleSeconds = option(values, "stop-when-idle");
    if (idleSeconds !== undefined) {
      idle = {
        seconds: positive(values, "stop-when-idle", 0),
        received: () => source.stats().received,
        last: 0,
        lastAt: Date.now(),
      };
    }
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      process.once(signal, () => {
        process.stderr.write(`\n${signal}: draining (final panes, last writes, acknowledgements)...\n`);
        drain.abort();
      });
    }
  } else {
    stream = fixtureFileSource<RawMessage>(input);
  }
  let warehouse = await openWarehouse(warehouseSpec, values);
  let insightsClient: PubSub | undefined;
  const insightsTopic = option(values, "insights-topic");
  if (insightsTopic !== undefined) {
    const t = /^pubsub:\/\/projects\/([^/]+)\/topics\/([^/]+)$/.exec(insightsTopic);
    if (t === null) throw new Error(`--insights-topic must be pubsub://projects/P/topics/T, got ${insightsTopic}`);
    insightsClient = pubsubClient(t[1] as string, option(values, "pubsub-endpoint"));
    const publisher = new PubsubPublisher({ pubsub: insightsClient, topic: t[2] as string });
    await publisher.checkExists();
    warehouse = withInsightsFeed(warehouse, publisher);
  }
  await warehouse.open();
  const maxMessages = option(values, "max-messages") === undefined ? undefined : positive(values, "max-messages", 0);
  if (maxMessages !== undefined && pubsub === undefined) throw new Error("--max-messages applies to a Pub/Sub input");
  const tty = process.stdout.isTTY === true;
  const checkpointDir = option(values, "checkpoint-dir");
  const run = await runMedallion(stream, warehouse, opts, {
    ...(checkpointDir === undefined ? {} : { checkpointDir }),
    checkpointIntervalMs: positive(values, "checkpoint-seconds", 5) * 1000,
    ...(option(values, "batch-rows") === undefined ? {} : { flushRows: positive(values, "batch-rows", 0) }),
    onStep: (running, index, started) => {
      if (maxMessages !== undefined && !drain.signal.aborted) {
        // The Read step's count is restored with a checkpoint: it counts every message of the job once.
        if (stepMetrics(running.metrics(), "Read").elementsOut >= maxMessages) drain.abort();
      }
      if (idle !== undefined) {
        const received = idle.received();
        if (received !== idle.last) {
          idle.last = received;
          idle.lastAt = Date.now();
        } else if (!drain.signal.aborted && Date.now() - idle.lastAt > idle.seconds * 1000) {
          drain.abort();
        }
      }
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
    },
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
      `${read.elementsOut} messages in ${seconds_.toFixed(1)} s into ${warehouseSpec}` +
        (run.resumedFrom === undefined ? "" : ` (resumed from checkpoint ${run.resumedFrom})`),
      `rows: ${Object.entries(counts)
        .map(([t, n]) => `${t} ${n}`)
        .join(", ")}`,
      `dead-lettered: ${written.deadLetter}; sessions merged away: ${written.sessionDeletes}` +
        (pubsub ? `; Pub/Sub messages acknowledged: ${written.acknowledged}` : ""),
      ...(pubsubStats === undefined ? [] : [pubsubLine(pubsubStats())]),
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
  await pubsub?.close();
  await insightsClient?.close();
}

function pubsubLine(s: PubsubSourceStats): string {
  return (
    `Pub/Sub: ${s.received} received, ${s.duplicatesDropped} re-deliveries dropped, ` +
    `${s.badTimestamps} unreadable timestamp attributes, ${s.reconnects} reconnects after the subscription went away`
  );
}

/** `{ [key]: value }` when value is defined, else `{}` (for optional options under exactOptionalPropertyTypes). */
function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}

main().catch((e) => {
  process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
