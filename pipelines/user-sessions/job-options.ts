import { LOG_FORMATS, LOG_LEVELS } from "../../runners/observe/log.ts";
import type { PubSub } from "@google-cloud/pubsub";
import type { Source } from "../../core/source.ts";
import { hours, minutes, seconds } from "../../core/time/duration.ts";
import { pubsubClient } from "../../io/pubsub/client.ts";
import { type PubsubSourceStats, pubsubSource } from "../../io/pubsub/pubsub-source.ts";
import { closeSync, openSync } from "node:fs";
import { fileLines, fixtureLinesSource } from "../../io/test-stream/jsonl.ts";
import type { RawMessage } from "../../schemas/event.ts";
import { type OptionValues, parseOptions } from "../../core/options.ts";
import { BigQueryWarehouse, UPSERT_METHODS, type UpsertMethod } from "../../io/bigquery/bigquery-warehouse.ts";
import { DuckDbWarehouse } from "../../io/duckdb/duckdb-warehouse.ts";
import type { Warehouse } from "../../io/warehouse.ts";
import type { CommitPhase } from "../../runners/direct/direct-runner.ts";
import { RUNNER_OPTIONS } from "../../runners/runner.ts";
import { Rng } from "./generate.ts";
import { GOLD_TRIGGERS, type GoldTrigger } from "./gold.ts";
import type { FeedTarget } from "./insights-feed.ts";
import type { MedallionFeeds, UserSessionsOptions } from "./pipeline.ts";
import { PubsubPublisher } from "../../io/pubsub/pubsub-sink.ts";
import { catchAllTenants } from "./tenant-options.ts";
import { loadParsers } from "../../schemas/parsers/parsers-config.ts";
import { payloadEncodingProblem } from "../../schemas/payload.ts";

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
  duckdbMemoryMib: {
    type: "number",
    range: "positive",
    default: 96,
    value: "MIB",
    help: "DuckDB's memory limit (its buffers; spills to disk beyond it), for a duckdb: warehouse",
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
    help: "also publish every Gold session change to this topic (a dashboard feed)",
  },
  deadLetterTopic: {
    type: "string",
    value: "pubsub://projects/P/topics/T",
    help: "also publish every invalid message to this topic, with its error (they are in Bronze either way)",
  },
  tenant: {
    type: "string",
    value: "T",
    help:
      'a worker for tenant T alone: --input names the subscription filtered on attributes.tenant_id = "T" (npm run ' +
      "provision makes TOPIC-T-worker), and any other tenant's message, or one without the attribute, is " +
      "dead-lettered with its reason (kept in Bronze, written under no tenant)",
  },
  tenantCatchAll: {
    type: "boolean",
    default: false,
    help:
      "the reader of the tenants' catch-all: --input names the subscription filtered on what no tenant's worker " +
      "takes (npm run provision makes TOPIC-tenant-catch-all-HASH), checked as the job starts against the tenants " +
      "of --topology (or of its retiredTenantLists, for a catch-all kept after the tenants changed); every message " +
      "goes to Bronze and the dead letters with its tenant problem, none to Silver or Gold",
  },
  topology: {
    type: "string",
    value: "FILE",
    help:
      "with --tenant-catch-all: the Pub/Sub topology whose tenants' catch-all it reads (default " +
      "deploy/pubsub/topology.json, the file Terraform reads and npm run provision's --topology)",
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
  bigqueryUpserts: {
    type: "string",
    choices: UPSERT_METHODS,
    value: "METHOD",
    help:
      "how BigQuery tables stay idempotent: transaction (a staging table, then one DML transaction per batch: one " +
      "writer) or cdc (change data capture on the tables' default streams, no DML: many writers); default cdc on " +
      "--runner=dataflow, else transaction",
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
  correlationAttribute: {
    type: "string",
    default: "correlation_id",
    value: "NAME",
    help:
      "the message attribute carrying a correlation id (a client's request or trace id): kept in Bronze and Silver, " +
      "Gold's last_correlation_id, and the logs",
  },
  parsers: {
    type: "string",
    value: "FILE",
    help:
      "how payloads become events, per schema version (a JSON file: versions -> json, a field mapping, or protobuf " +
      "from a descriptor set; README, Parsers and field mapping): a message's version is its schema_version " +
      "attribute, else its JSON payload's, else the file's defaultVersion; an unknown one is dead-lettered with " +
      "its reason. Default: JSON events only",
  },
  dedupHours: {
    type: "number",
    range: "positive",
    default: 24,
    help: "how long an event id is remembered to drop re-deliveries",
  },
  metricsPort: {
    type: "number",
    range: "non-negative",
    value: "PORT",
    help:
      "serve the job's metrics (/metrics, Prometheus), /healthz and /readyz on this port while it runs (0: a free " +
      "port, printed); off by default",
  },
  metricsHost: {
    type: "string",
    default: "127.0.0.1",
    value: "HOST",
    help: "the address --metrics-port and --ui-port listen on (0.0.0.0 to be scraped from other machines)",
  },
  uiPort: {
    type: "number",
    range: "non-negative",
    value: "PORT",
    help:
      "serve a live dashboard of the job (a web page: watermarks, throughput, backlog, dead letters, checkpoints, " +
      "open windows, Gold's changes as they commit) on this port while it runs (0: a free port, printed); off by " +
      "default",
  },
  archive: {
    type: "string",
    value: "file://DIR|gs://BUCKET/PREFIX",
    help:
      "also write every Bronze row to hourly-partitioned, zstd-compressed Parquet files here (dt=YYYY-MM-DD/hour=HH/, " +
      "by publish time), exactly once per message after a crash: needs --checkpoint-dir (default: no archive)",
  },
  gcsEndpoint: {
    type: "string",
    value: "URL",
    help:
      "Cloud Storage endpoint for a gs:// --archive, e.g. fake-gcs-server's http://127.0.0.1:PORT (default " +
      "$STORAGE_EMULATOR_HOST, else Google)",
  },
  logFormat: {
    type: "string",
    choices: LOG_FORMATS,
    value: "FORMAT",
    help:
      "the job's log on stderr: text, json (a JSON object per line) or gcp (Cloud Logging's JSON: severity, " +
      "message); default gcp on Google Cloud (Cloud Run, GKE), text on a terminal, json otherwise",
  },
  logLevel: {
    type: "string",
    choices: LOG_LEVELS,
    default: "info",
    value: "LEVEL",
    help: "the least severe level logged",
  },
  killAt: {
    type: "string",
    value: "PHASE:N",
    help:
      "testing: SIGKILL this process at the Nth commit's PHASE (writes-started, writes-done, checkpoint-written, " +
      "stable-input-written, finalized), or 0-19 ms after it with PHASE+ (a crash test's fault injection; the " +
      "direct runner's commits)",
  },
  killSeed: {
    type: "number",
    range: "non-negative",
    value: "S",
    help:
      "testing: the seed of --kill-at=PHASE+:N's delay, a whole number below 2^32 (default from the clock; the " +
      "seed and delay used are printed to stderr, so a run is replayed with them)",
  },
} as const;

export const OPTIONS = {
  ...RUNNER_OPTIONS,
  ...MEDALLION_OPTIONS,
  jobName: { ...RUNNER_OPTIONS.jobName, default: "user-sessions" },
} as const;
export type Options = OptionValues<typeof OPTIONS>;

/** The warehouse `--warehouse` names (not yet opened). */
export async function openWarehouse(o: Options): Promise<Warehouse> {
  const spec = o.warehouse;
  if (spec.startsWith("duckdb:")) {
    return DuckDbWarehouse.create(spec.slice("duckdb:".length), { memoryLimitMb: o.duckdbMemoryMib });
  }
  if (spec.startsWith("bigquery://")) {
    const { projectId, dataset } = BigQueryWarehouse.parseSpec(spec);
    // An emulator has no metadata server to ask for credentials.
    if (o.bigqueryEndpoint !== undefined) process.env.METADATA_SERVER_DETECTION ??= "none";
    return new BigQueryWarehouse({
      projectId,
      dataset,
      appendMethod: o.bigqueryAppend as "storage-write" | "insert-all",
      upserts: (o.bigqueryUpserts ?? (o.runner === "dataflow" ? "cdc" : "transaction")) as UpsertMethod,
      ...(o.bigqueryEndpoint === undefined ? {} : { apiEndpoint: o.bigqueryEndpoint }),
      ...(o.bigqueryStorageEndpoint === undefined ? {} : { storageEndpoint: o.bigqueryStorageEndpoint }),
    });
  }
  throw new Error(`--warehouse must be duckdb:PATH or bigquery://PROJECT/DATASET, got ${JSON.stringify(spec)}`);
}

/**
 * A fixture file of messages (`fixtureFileSource`), each message's payload `encoding` checked as its line is read:
 * absent (text) or `base64` with canonical base64 in `data`; anything else (a typo, another encoding) is an error
 * naming the file, line and message, where it would have made the payload's bytes its text (or dropped base64's
 * stray characters). Only lines that name an encoding are read twice.
 */
function fixtureMessages(path: string): Source<RawMessage> {
  try {
    closeSync(openSync(path, "r"));
  } catch (e) {
    throw new Error(`cannot read fixture stream ${path}: ${(e as Error).message}`);
  }
  return fixtureLinesSource<RawMessage>(path, function* () {
    let n = 0;
    for (const line of fileLines(path)) {
      n++;
      if (line.includes('"encoding"')) {
        const problem = fixtureEncodingProblem(line);
        if (problem !== undefined) throw new Error(`fixture stream ${path} line ${n}: ${problem}`);
      }
      yield line;
    }
  });
}

/** Why a fixture line's messages do not say their payload's encoding right, or undefined (other problems: the parser's). */
function fixtureEncodingProblem(line: string): string | undefined {
  let event: unknown;
  try {
    event = JSON.parse(line);
  } catch {
    return undefined;
  }
  const input = (event as { input?: unknown } | null)?.input;
  if (!Array.isArray(input)) return undefined;
  for (const e of input as { value?: { messageId?: unknown; data?: unknown; encoding?: unknown } }[]) {
    const m = e?.value;
    if (typeof m !== "object" || m === null) continue;
    const problem = payloadEncodingProblem(m.encoding);
    const id = JSON.stringify(m.messageId);
    if (problem !== undefined) return `message ${id}: encoding ${problem}`;
    if (
      m.encoding === "base64" &&
      (typeof m.data !== "string" || Buffer.from(m.data, "base64").toString("base64") !== m.data)
    ) {
      return `message ${id}: data is not base64 (encoding "base64")`;
    }
  }
  return undefined;
}

/**
 * The job's input, as `--input` names it: a fixture file, or a Pub/Sub subscription (or a topic, through a temporary
 * subscription) read until `signal` aborts. With Pub/Sub, the client (to close) and the source's statistics.
 */
export function openSource(
  o: Options,
  signal?: AbortSignal,
): { readonly source: Source<RawMessage>; readonly pubsub?: PubSub; readonly stats?: () => PubsubSourceStats } {
  const input = o.input;
  if (!input.startsWith("pubsub://")) return { source: fixtureMessages(input) };
  const m = /^pubsub:\/\/projects\/([^/]+)\/(subscriptions|topics)\/([^/]+)$/.exec(input);
  if (m === null) {
    throw new Error(
      `--input=pubsub://... must be pubsub://projects/P/subscriptions/S or pubsub://projects/P/topics/T, got ${input}`,
    );
  }
  const [, projectId, kind, name] = m as unknown as [string, string, string, string];
  const pubsub = pubsubClient(projectId, o.pubsubEndpoint);
  const source = pubsubSource({
    pubsub,
    ...(kind === "subscriptions" ? { subscription: name } : { topic: name }),
    ...(o.timestampAttribute === undefined ? {} : { timestampAttribute: o.timestampAttribute }),
    ...(o.idAttribute === undefined ? {} : { idAttribute: o.idAttribute }),
    ...(signal === undefined ? {} : { signal }),
    ...(o.leaseSeconds === undefined ? {} : { leaseDeadlineSeconds: o.leaseSeconds }),
  });
  return { source, pubsub, stats: () => source.stats() };
}

/**
 * The medallion's pipeline options (gap, lateness, early firings, Gold's trigger, de-duplication horizon, the tenant
 * mode). With `--tenant-catch-all` the topology file is read for its tenants (`catchAllTenants`).
 */
export function medallionOptions(o: Options): UserSessionsOptions {
  return {
    gapMs: minutes(o.gapMinutes),
    allowedLatenessMs: hours(o.latenessHours),
    earlyFiringMs: seconds(o.earlySeconds),
    trigger: (o.goldTrigger ?? (o.runner === "prism" ? "watermark" : "early-late")) as GoldTrigger,
    dedupHorizonMs: hours(o.dedupHours),
    correlationAttribute: o.correlationAttribute,
    ...(o.parsers === undefined ? {} : { parser: loadParsers(o.parsers, `--parsers=${o.parsers}`) }),
    ...(o.tenant === undefined ? {} : { tenant: o.tenant }),
    ...(o.tenantCatchAll ? { catchAllTenants: catchAllTenants(o) } : {}),
  };
}

/** Parses the medallion job's command line (with the environment), as the CLI and a worker process both do. */
export function parseJobOptions(argv: readonly string[], env: NodeJS.ProcessEnv = process.env) {
  return parseOptions(OPTIONS, [...argv], env);
}

/**
 * What the runner named can run of this job, refused before anything is opened, with the reason:
 * - `--drain`, `--cancel`, `--update`, `--wait` are Dataflow's; drain and cancel act on a running job (nothing else
 *   may come with them: not a dry run, not an update); `--transform-name-mapping` needs `--update`; a dry run
 *   submits nothing to wait for or to update;
 * - a Dataflow job runs until drained: `--max-messages` and `--stop-when-idle` are the local runners';
 * - a Dataflow job (unless only written with `--dry-run`) reads Pub/Sub and writes BigQuery: a fixture file would be
 *   read from each worker's own disk, and a DuckDB file would be one per worker, lost with it.
 */
export function checkRunnerInputs(o: Options): void {
  const dataflowOnly = (["drain", "cancel", "update", "wait"] as const).filter((k) => o[k]);
  if (o.transformNameMapping !== undefined && !o.update) {
    throw new Error("--transform-name-mapping applies to --update (renamed steps of the job it replaces)");
  }
  if (o.runner !== "dataflow") {
    if (dataflowOnly.length > 0) {
      throw new Error(`--${dataflowOnly[0]} applies to --runner=dataflow (a job running in Dataflow)`);
    }
    return;
  }
  const action = o.drain ? "drain" : o.cancel ? "cancel" : undefined;
  if (action !== undefined) {
    const other = o.drain && o.cancel ? "--cancel" : o.update ? "--update" : o.dryRun !== undefined ? "--dry-run" : "";
    if (other !== "") throw new Error(`--${action} acts on the running job alone: it cannot come with ${other}`);
    return;
  }
  for (const [name, set] of [
    ["max-messages", o.maxMessages !== undefined],
    ["stop-when-idle", o.stopWhenIdle !== undefined],
  ] as const) {
    if (set) throw new Error(`--${name} bounds a local run: a Dataflow job runs until it is drained (--drain)`);
  }
  if (o.metricsPort !== undefined) {
    throw new Error(
      "--metrics-port serves a local run's metrics: a Dataflow job's are in Cloud Monitoring (the alert policies in " +
        "deploy/monitoring/ read them there)",
    );
  }
  if (o.dryRun !== undefined) {
    if (o.wait || o.update) {
      throw new Error(`--${o.wait ? "wait" : "update"} needs a submission: --dry-run submits nothing`);
    }
    return;
  }
  if (!o.input.startsWith("pubsub://")) {
    throw new Error(
      `--runner=dataflow reads Pub/Sub (--input=pubsub://projects/P/subscriptions/S): the fixture ${o.input} would be ` +
        "read from each worker's disk (--dry-run=DIR writes such a job without submitting it)",
    );
  }
  if (!o.warehouse.startsWith("bigquery://")) {
    throw new Error(
      `--runner=dataflow writes BigQuery (--warehouse=bigquery://PROJECT/DATASET): ${o.warehouse} would be a file ` +
        "on each worker, lost with it",
    );
  }
}

/**
 * `--max-messages` and `--stop-when-idle` bound a Pub/Sub read; a fixture stream ends by itself, so either one with
 * a fixture input is refused rather than ignored. (On Dataflow both are refused by `checkRunnerInputs` first.)
 */
export function checkReadBounds(o: Options): void {
  if (o.input.startsWith("pubsub://")) return;
  for (const [name, set] of [
    ["max-messages", o.maxMessages !== undefined],
    ["stop-when-idle", o.stopWhenIdle !== undefined],
  ] as const) {
    if (set) throw new Error(`--${name} applies to a Pub/Sub input: the fixture ${o.input} ends by itself`);
  }
}

/** The phases of a commit, in order: `--kill-at`'s PHASE. */
export const COMMIT_PHASES: readonly CommitPhase[] = [
  "writes-started",
  "writes-done",
  "checkpoint-written",
  "stable-input-written",
  "finalized",
];

/** Where `--kill-at` kills the process: at the `nth` commit's `phase`, or, with `after`, that long after it. */
export interface KillAt {
  readonly phase: CommitPhase;
  readonly nth: number;
  /** `PHASE+`: the delay (0-19 ms) and the seed it was drawn from. */
  readonly after?: { readonly delayMs: number; readonly seed: number };
}

/**
 * `--kill-at=PHASE:N` or `PHASE+:N` (with `--kill-seed`), checked before anything is opened. PHASE+'s delay is the
 * first draw of the generator's PRNG (mulberry32, `Rng`) seeded with `--kill-seed`, else with `clockSeed` (the
 * caller's clock), so the seed a run printed replays its kill. The commits are the direct runner's: another runner
 * is refused.
 */
export function parseKillAt(o: Pick<Options, "killAt" | "killSeed" | "runner">, clockSeed: number): KillAt | undefined {
  const spec = o.killAt;
  if (spec === undefined) {
    if (o.killSeed !== undefined) throw new Error("--kill-seed applies to --kill-at=PHASE+:N (the seed of its delay)");
    return undefined;
  }
  const m = /^([a-z-]+)(\+?):([1-9]\d*)$/.exec(spec);
  if (m === null || !COMMIT_PHASES.includes(m[1] as CommitPhase)) {
    throw new Error(
      `--kill-at must be PHASE:N or PHASE+:N with PHASE one of ${COMMIT_PHASES.join(", ")} and N from 1, got ${spec}`,
    );
  }
  if (o.runner !== "direct") {
    throw new Error(`--kill-at applies to --runner=direct (its commits), not --runner=${o.runner}`);
  }
  const [, phase, later, nth] = m as unknown as [string, CommitPhase, string, string];
  if (later !== "+") {
    if (o.killSeed !== undefined) {
      throw new Error(`--kill-seed applies to --kill-at=PHASE+:N (the seed of its delay), got ${spec}`);
    }
    return { phase, nth: Number(nth) };
  }
  const seed = o.killSeed ?? clockSeed;
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    throw new Error(`--kill-seed must be a whole number from 0 to 2^32 - 1, got ${seed}`);
  }
  return { phase, nth: Number(nth), after: { delayMs: new Rng(seed).int(0, 19), seed } };
}

/**
 * The Pub/Sub feeds `--insights-topic` and `--dead-letter-topic` name, each with a publisher made on first use (in
 * the process that runs the step: this one, or a Dataflow worker when Dataflow does not publish them itself), and a
 * `close` for the clients made.
 */
export function openFeeds(o: Options): { readonly feeds: MedallionFeeds; close(): Promise<void> } {
  const clients: PubSub[] = [];
  const target = (option: string, spec: string | undefined): FeedTarget | undefined => {
    if (spec === undefined) return undefined;
    const t = /^pubsub:\/\/projects\/([^/]+)\/topics\/([^/]+)$/.exec(spec);
    if (t === null) throw new Error(`--${option} must be pubsub://projects/P/topics/T, got ${spec}`);
    const [, project, topic] = t as unknown as [string, string, string];
    let publisher: PubsubPublisher | undefined;
    return {
      topic: `projects/${project}/topics/${topic}`,
      // One client and publisher per feed in a process (the step and the launcher's check share it).
      publisher: () => {
        if (publisher === undefined) {
          const client = pubsubClient(project, o.pubsubEndpoint);
          clients.push(client);
          publisher = new PubsubPublisher({ pubsub: client, topic });
        }
        return publisher;
      },
    };
  };
  const insights = target("insights-topic", o.insightsTopic);
  const deadLetters = target("dead-letter-topic", o.deadLetterTopic);
  return {
    feeds: { ...(insights === undefined ? {} : { insights }), ...(deadLetters === undefined ? {} : { deadLetters }) },
    async close() {
      for (const c of clients.splice(0)) await c.close();
    },
  };
}

/**
 * `--metrics-port` is a TCP port (0: a free one). It serves a job on the direct runner or on Prism (followed through
 * the Job API while it runs: `runners/portable/job-monitor.ts`); a Dataflow job's metrics are in Cloud Monitoring
 * (`checkRunnerInputs` refuses it there).
 */
export function checkMetricsPort(o: Pick<Options, "metricsPort">): void {
  const p = o.metricsPort;
  if (p !== undefined && !(Number.isInteger(p) && p <= 65_535)) {
    throw new Error(`--metrics-port must be a TCP port, a whole number from 0 to 65535 (0: a free one), got ${p}`);
  }
}
