import type { PubSub } from "@google-cloud/pubsub";
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
import { describeOptions, type OptionValues, parseOptions } from "../../core/options.ts";
import type { CommitInfo, CommitPhase } from "../../runners/direct/direct-runner.ts";
import { RUNNER_OPTIONS, runnerNamed } from "../../runners/runner.ts";
import { GOLD_TRIGGERS, type GoldTrigger } from "./gold.ts";

/** The medallion's own options, beside the runner's (`RUNNER_OPTIONS`); parsed once, in one object. */
export const MEDALLION_OPTIONS = {
  input: {
    type: "string",
    default: "test/fixtures/events-small.jsonl",
    value: "FILE|pubsub://...",
    help:
      "a fixture stream (JSON Lines), or pubsub://projects/P/subscriptions/S (or pubsub://projects/P/topics/T: a " +
      "temporary subscription), read until SIGINT/SIGTERM, then drained: every window fires its final pane, is " +
      "written, and the messages are acknowledged",
  },
  warehouse: {
    type: "string",
    default: "duckdb:./data/tidemark.duckdb",
    value: "duckdb:PATH|bigquery://PROJECT/DATASET",
    help:
      "an embedded DuckDB file, or BigQuery (tables created or evolved from the schemas; Bronze and Silver " +
      "appended, Gold upserted, each idempotently)",
  },
  pubsubEndpoint: {
    type: "string",
    value: "HOST:PORT",
    help: "Pub/Sub endpoint, e.g. the emulator's (default $PUBSUB_EMULATOR_HOST, else Google)",
  },
  timestampAttribute: {
    type: "string",
    value: "NAME",
    help: "Pub/Sub: event time from this attribute (default the publish time)",
  },
  idAttribute: {
    type: "string",
    value: "NAME",
    help: "Pub/Sub: de-duplicate re-publications by this attribute (default the message id)",
  },
  stopWhenIdle: {
    type: "number",
    range: "positive",
    value: "SECONDS",
    help: "Pub/Sub: drain after this long without a message",
  },
  maxMessages: {
    type: "number",
    range: "whole",
    help:
      "Pub/Sub: drain once N messages have been read in all (counted across resumes from checkpoints, re-deliveries " +
      "once), as Beam's withMaxNumRecords bounds a read",
  },
  leaseSeconds: {
    type: "number",
    range: "positive",
    value: "N",
    help: "Pub/Sub: deadline of each lease extension, how soon the messages of a crashed run come back (10 to 600)",
  },
  insightsTopic: {
    type: "string",
    value: "pubsub://projects/P/topics/T",
    help: "also publish every committed Gold session change to this topic (a dashboard feed)",
  },
  batchRows: { type: "number", range: "whole", default: 50_000, help: "rows per warehouse batch (per table)" },
  bigqueryEndpoint: {
    type: "string",
    value: "URL",
    help: "BigQuery REST endpoint, e.g. the emulator's (default Google)",
  },
  bigqueryStorageEndpoint: {
    type: "string",
    value: "HOST:PORT",
    help: "the Storage Write API over plaintext gRPC, e.g. the emulator's (default Google)",
  },
  bigqueryAppend: {
    type: "string",
    default: "storage-write",
    choices: ["storage-write", "insert-all"],
    value: "METHOD",
    help: "how rows reach BigQuery's staging tables: the Storage Write API or insertAll",
  },
  gapMinutes: { type: "number", range: "positive", default: 30, help: "session gap" },
  latenessHours: {
    type: "number",
    range: "positive",
    default: 24,
    help: "allowed lateness for sessions and hourly rows",
  },
  earlySeconds: {
    type: "number",
    range: "positive",
    default: 5,
    help: "early panes of a running session after N s of processing time",
  },
  goldTrigger: {
    type: "string",
    choices: GOLD_TRIGGERS,
    value: "NAME",
    help:
      "Gold's panes: early-late (early panes, on time, a late pane per late event) or watermark (on time, a late " +
      "pane per late bundle); default early-late, and watermark on --runner=prism, which refuses early and " +
      "per-element late firings on session windows",
  },
  dedupHours: {
    type: "number",
    range: "positive",
    default: 24,
    help: "how long an event id is remembered to drop re-deliveries",
  },
  killAt: {
    type: "string",
    value: "PHASE:N",
    help:
      "testing: SIGKILL this process at the Nth commit's PHASE (writes-started, writes-done, checkpoint-written, " +
      "stable-input-written, finalized), or a moment after it with PHASE+ (a crash test's fault injection)",
  },
} as const;

const OPTIONS = {
  ...RUNNER_OPTIONS,
  ...MEDALLION_OPTIONS,
  jobName: { ...RUNNER_OPTIONS.jobName, default: "user-sessions" },
} as const;
type Options = OptionValues<typeof OPTIONS>;

const HELP = `Usage: npm run pipeline -- [options]

Runs the user-sessions medallion pipeline (Bronze, Silver, Gold) over a fixture stream or a Pub/Sub
subscription into a warehouse. The job is one graph (read, Bronze, Silver, Gold, the warehouse sinks); --runner
says where it runs. Every option can also be set in the environment (the variable named with it).

${describeOptions(OPTIONS)}
  --help`;

async function openWarehouse(o: Options): Promise<Warehouse> {
  const spec = o.warehouse;
  if (spec.startsWith("duckdb:")) return DuckDbWarehouse.create(spec.slice("duckdb:".length));
  if (spec.startsWith("bigquery://")) {
    const { projectId, dataset } = BigQueryWarehouse.parseSpec(spec);
    // An emulator has no metadata server to ask for credentials.
    if (o.bigqueryEndpoint !== undefined) process.env.METADATA_SERVER_DETECTION ??= "none";
    return new BigQueryWarehouse({
      projectId,
      dataset,
      appendMethod: o.bigqueryAppend as "storage-write" | "insert-all",
      ...(o.bigqueryEndpoint === undefined ? {} : { apiEndpoint: o.bigqueryEndpoint }),
      ...(o.bigqueryStorageEndpoint === undefined ? {} : { storageEndpoint: o.bigqueryStorageEndpoint }),
    });
  }
  throw new Error(`--warehouse must be duckdb:PATH or bigquery://PROJECT/DATASET, got ${JSON.stringify(spec)}`);
}

const COMMIT_PHASES: readonly CommitPhase[] = [
  "writes-started",
  "writes-done",
  "checkpoint-written",
  "stable-input-written",
  "finalized",
];

/** `--kill-at=PHASE:N` (or `PHASE+:N`, a random 0-20 ms after the phase): SIGKILLs this process there. */
function killAt(spec: string | undefined): ((phase: CommitPhase, commit: CommitInfo) => void) | undefined {
  if (spec === undefined) return undefined;
  const m = /^([a-z-]+)(\+?):(\d+)$/.exec(spec);
  if (m === null || !COMMIT_PHASES.includes(m[1] as CommitPhase)) {
    throw new Error(`--kill-at must be PHASE:N or PHASE+:N with PHASE one of ${COMMIT_PHASES.join(", ")}, got ${spec}`);
  }
  const [, phase, later, nth] = m as unknown as [string, CommitPhase, string, string];
  let seen = 0;
  return (p) => {
    if (p !== phase || ++seen !== Number(nth)) return;
    const kill = () => process.kill(process.pid, "SIGKILL");
    if (later === "+") setTimeout(kill, Math.floor(Math.random() * 20));
    else kill();
  };
}

async function main(): Promise<void> {
  const { help, options: o } = parseOptions(OPTIONS, process.argv.slice(2), process.env);
  if (help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  // The runner is checked before anything is opened.
  const runner = runnerNamed(o.runner);
  if (runner.unavailable !== undefined) throw new Error(runner.unavailable);
  const input = o.input;
  const opts = {
    gapMs: minutes(o.gapMinutes),
    allowedLatenessMs: hours(o.latenessHours),
    earlyFiringMs: seconds(o.earlySeconds),
    trigger: (o.goldTrigger ?? (o.runner === "prism" ? "watermark" : "early-late")) as GoldTrigger,
    dedupHorizonMs: hours(o.dedupHours),
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
    pubsub = pubsubClient(projectId, o.pubsubEndpoint);
    const source = pubsubSource({
      pubsub,
      ...(kind === "subscriptions" ? { subscription: name } : { topic: name }),
      ...optional("timestampAttribute", o.timestampAttribute),
      ...optional("idAttribute", o.idAttribute),
      signal: drain.signal,
      ...(o.leaseSeconds === undefined ? {} : { leaseDeadlineSeconds: o.leaseSeconds }),
    });
    stream = source;
    pubsubStats = () => source.stats();
    if (o.stopWhenIdle !== undefined) {
      idle = { seconds: o.stopWhenIdle, received: () => source.stats().received, last: 0, lastAt: Date.now() };
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
  const maxMessages = o.maxMessages;
  if (maxMessages !== undefined && pubsub === undefined) throw new Error("--max-messages applies to a Pub/Sub input");
  let warehouse = await openWarehouse(o);
  let insightsClient: PubSub | undefined;
  const insightsTopic = o.insightsTopic;
  if (insightsTopic !== undefined) {
    const t = /^pubsub:\/\/projects\/([^/]+)\/topics\/([^/]+)$/.exec(insightsTopic);
    if (t === null) throw new Error(`--insights-topic must be pubsub://projects/P/topics/T, got ${insightsTopic}`);
    insightsClient = pubsubClient(t[1] as string, o.pubsubEndpoint);
    const publisher = new PubsubPublisher({ pubsub: insightsClient, topic: t[2] as string });
    await publisher.checkExists();
    warehouse = withInsightsFeed(warehouse, publisher);
  }
  await warehouse.open();
  const tty = process.stdout.isTTY === true;
  const onCommit = killAt(o.killAt);
  const run = await runMedallion(stream, warehouse, opts, {
    flushRows: o.batchRows,
    runner: o,
    ...(onCommit === undefined ? {} : { onCommit }),
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
  if (o.runner === "dataflow") {
    // The job runs in Dataflow (or, with --dry-run, was only written): no rows here to report.
    await warehouse.close();
    return;
  }
  const counts = await warehouse.counts();
  const seconds_ = run.elapsedMs / 1000;
  const read = stepMetrics(metrics, "Read");
  const sessions = stepMetrics(metrics, "GoldSessions/Aggregate");
  const hourly = stepMetrics(metrics, "GoldHourly/Aggregate");
  process.stdout.write(
    [
      `${read.elementsOut} messages in ${seconds_.toFixed(1)} s into ${o.warehouse} (${runner.name} runner)` +
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
