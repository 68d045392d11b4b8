import { formatInstant } from "../../core/time/instant.ts";
import type { PubsubSourceStats } from "../../io/pubsub/pubsub-source.ts";
import { stepMetrics } from "../../runners/direct/metrics.ts";
import { runMedallion } from "./run.ts";
import { medallionModule } from "./worker.ts";
import { describeOptions, parseOptions } from "../../core/options.ts";
import type { CommitInfo, CommitPhase } from "../../runners/direct/direct-runner.ts";
import { CommitStats } from "../../runners/observe/commit-stats.ts";
import { runnerNamed } from "../../runners/runner.ts";
import { checkDataflowSubmission } from "../../runners/dataflow/dataflow-runner.ts";
import { changeJobState } from "../../runners/dataflow/lifecycle.ts";
import {
  checkMetricsPort,
  checkReadBounds,
  checkRunnerInputs,
  type KillAt,
  medallionOptions,
  OPTIONS,
  openFeeds,
  openSource,
  openWarehouse,
  parseKillAt,
} from "./job-options.ts";
import type { Logger } from "pino";
import {
  createLogger,
  defaultLogFormat,
  errorFields,
  type LogFormat,
  type LogLevel,
} from "../../runners/observe/log.ts";
import { type MedallionOps, startMedallionOps } from "./ops.ts";
import { ProgressLine } from "./progress-line.ts";
import { type ArchiveTally, checkArchive, openArchive } from "./archive-options.ts";
import { checkUiPort, type MedallionDashboard, startMedallionDashboard } from "./dashboard.ts";
import type { MedallionFeeds } from "./pipeline.ts";
import {
  checkCatchAllSubscription,
  checkTenant,
  checkTenantCatchAll,
  checkTenantSubscription,
} from "./tenant-options.ts";

/** The job's log (`--log-format`, `--log-level`), once the options are read (for the error that ends the run). */
let jobLog: Logger | undefined;

const HELP = `Usage: npm run pipeline -- [options]

Runs the user-sessions medallion pipeline (Bronze, Silver, Gold) over a fixture stream or a Pub/Sub
subscription into a warehouse. The job is one graph (read, Bronze, Silver, Gold, the warehouse sinks); --runner
says where it runs. Every option can also be set in the environment (the variable named with it).

${describeOptions(OPTIONS)}
  --help`;

/** `--kill-at` as a commit hook: SIGKILLs this process at the phase it names (or `after.delayMs` later). */
function killHook(at: KillAt): (phase: CommitPhase, commit: CommitInfo) => void {
  let seen = 0;
  return (p) => {
    if (p !== at.phase || ++seen !== at.nth) return;
    const kill = () => process.kill(process.pid, "SIGKILL");
    if (at.after !== undefined) setTimeout(kill, at.after.delayMs);
    else kill();
  };
}

async function main(): Promise<void> {
  const { help, options: o } = parseOptions(OPTIONS, process.argv.slice(2), process.env);
  const log = createLogger({
    format: (o.logFormat as LogFormat | undefined) ?? defaultLogFormat(),
    level: o.logLevel as LogLevel,
    name: o.jobName,
  });
  jobLog = log;
  if (help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  // The runner is checked before anything is opened.
  const runner = runnerNamed(o.runner);
  if (runner.unavailable !== undefined) throw new Error(runner.unavailable);
  checkRunnerInputs(o);
  const killAt = parseKillAt(o, Date.now() % 1_000_000);
  if (o.drain || o.cancel) {
    await changeJobState(o.drain ? "drain" : "cancel", o);
    return;
  }
  checkReadBounds(o);
  checkTenant(o);
  checkTenantCatchAll(o);
  checkMetricsPort(o);
  checkUiPort(o);
  const archiveAt = checkArchive(o);
  if (killAt?.after !== undefined) {
    const { delayMs, seed } = killAt.after;
    log.warn(
      { killAt: o.killAt, delayMs, seed },
      `--kill-at=${o.killAt}: SIGKILL ${delayMs} ms after the phase (seed ${seed}: --kill-seed=${seed} replays it)`,
    );
  }
  const dataflow = o.runner === "dataflow";
  // Dataflow's options, credentials and Google's answer, before the warehouse is opened (it creates tables).
  if (dataflow) await checkDataflowSubmission(o);
  const opts = medallionOptions(o);

  const drain = new AbortController();
  let idle: { readonly seconds: number; received: () => number; last: number; lastAt: number } | undefined;
  let pubsubStats: (() => PubsubSourceStats) | undefined;
  const opened = openSource(o, drain.signal);
  const stream = opened.source;
  const pubsub = opened.pubsub;
  const stats = opened.stats;
  // A tenant's worker reads its tenant's filtered subscription, the catch-all's reader the catch-all (both refused on
  // Dataflow: see checkTenant, checkTenantCatchAll).
  if (pubsub !== undefined && !dataflow) {
    try {
      await checkTenantSubscription(pubsub, o);
      await checkCatchAllSubscription(pubsub, o);
    } catch (e) {
      await pubsub.close();
      throw e;
    }
  }
  // On Dataflow the job reads Pub/Sub itself: this process only submits it (nothing here to drain).
  if (stats !== undefined && !dataflow) {
    pubsubStats = stats;
    if (o.stopWhenIdle !== undefined) {
      idle = { seconds: o.stopWhenIdle, received: () => stats().received, last: 0, lastAt: Date.now() };
    }
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      process.once(signal, () => {
        log.info({ signal }, `${signal}: draining (final panes, last writes, acknowledgements)`);
        drain.abort();
      });
    }
  }
  const maxMessages = o.maxMessages;
  // One record of the job's commits and checkpoints, fed by the runner's commit hook, read by /metrics, /readyz and
  // the dashboard.
  const commits = new CommitStats(Date.now);
  let ops: MedallionOps | undefined;
  // On Prism the job is followed through the Job API: its workers report processing time, and Prism commits bundles
  // itself (no Tidemark commits or checkpoints to serve).
  const prism = o.runner === "prism";
  if (o.metricsPort !== undefined) {
    ops = await startMedallionOps({
      port: o.metricsPort,
      host: o.metricsHost,
      ...(pubsubStats === undefined ? {} : { pubsub: pubsubStats, subscription: o.input }),
      ...(o.checkpointDir === undefined ? {} : { checkpointIntervalMs: o.checkpointSeconds * 1000 }),
      tenantCatchAll: o.tenantCatchAll,
      ...(prism ? { processingTime: "reported" as const } : { commits }),
    });
    log.info({ url: `${ops.url}/metrics` }, `metrics: ${ops.url}/metrics (health: /healthz, /readyz)`);
  }
  let ui: MedallionDashboard | undefined;
  if (o.uiPort !== undefined) {
    ui = await startMedallionDashboard({
      port: o.uiPort,
      host: o.metricsHost,
      input: o.input,
      ...(pubsubStats === undefined ? {} : { pubsub: pubsubStats }),
      commits,
    });
    log.info({ url: `${ui.url}/` }, `dashboard: ${ui.url}/`);
  }
  // With --ui-port, the Gold session batches the warehouse commits are also pushed to the dashboard.
  const warehouse = ui === undefined ? await openWarehouse(o) : ui.tap(await openWarehouse(o));
  const feeds = openFeeds(o);
  const archiveTally: ArchiveTally = { files: 0, rows: 0 };
  const archive = archiveAt === undefined ? undefined : openArchive(archiveAt, o, archiveTally);
  if (!dataflow) {
    // A missing topic is named before anything runs (Dataflow's workers find it themselves).
    for (const target of Object.values(feeds.feeds)) await target.publisher().checkExists();
    // So is a missing archive bucket (its first upload would fail only after the first checkpoint).
    await archive?.check();
  }
  // The tables are created (or evolved) here, once, before the job's workers start; a dry run changes nothing.
  if (!(dataflow && o.dryRun !== undefined)) await warehouse.open();
  ops?.warehouseOpened();
  const tty = process.stdout.isTTY === true;
  const progress = tty ? new ProgressLine((text) => process.stdout.write(text)) : undefined;
  const kill = killAt === undefined ? undefined : killHook(killAt);
  const onCommit = (phase: CommitPhase, commit: CommitInfo) => {
    commits.onCommit(phase, commit);
    kill?.(phase, commit);
  };
  let reconnects = 0;
  const run = await runMedallion(
    stream,
    warehouse,
    { ...opts, feeds: feeds.feeds, ...(archive === undefined ? {} : { archive: archive.archive }) },
    {
      flushRows: o.batchRows,
      runner: o,
      pipelineModule: medallionModule(process.argv.slice(2)),
      ...(ops === undefined ? {} : { processingTime: true }),
      onCommit,
      onStep: (running, index, started) => {
        if (index === 0) {
          ops?.watch(running);
          ui?.watch(() => running.metrics());
        }
        if (maxMessages !== undefined && !drain.signal.aborted) {
          // The Read step's count is restored with a checkpoint: it counts every message of the job once.
          if (stepMetrics(running.metrics(), "Read").elementsOut >= maxMessages) drain.abort();
        }
        // Said as it happens (the count is in the summary too): a run waiting for its subscription looks idle.
        const seenReconnects = pubsubStats?.().reconnects ?? 0;
        if (seenReconnects > reconnects) {
          reconnects = seenReconnects;
          log.warn(
            { reconnects, subscription: o.input },
            `Pub/Sub: the subscription went away (${reconnects} so far); reconnecting once it is back`,
          );
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
        // Redrawn by time, not by step: Prism's steps are its readings, one a second.
        progress?.update(() => {
          const m = running.metrics();
          const read = stepMetrics(m, "Read");
          const agg = stepMetrics(m, "GoldSessions/Aggregate");
          const rate = read.elementsOut / ((performance.now() - started) / 1000);
          // Prism's Job API gives neither watermarks nor open windows: the line leaves them out there.
          const watermark = m.unreported?.includes("watermarks") === true ? undefined : read.outputWatermark;
          return (
            `${read.elementsOut} messages, ` +
            (watermark === undefined ? "" : `watermark ${formatInstant(watermark)}, `) +
            (agg.windows === undefined ? "" : `${agg.windows} sessions open, `) +
            `${Math.round(rate)} msg/s   `
          );
        });
      },
    },
  );
  const { metrics, written } = run;
  if (tty) process.stdout.write("\n");
  if (o.runner === "dataflow") {
    // The job runs in Dataflow (or, with --dry-run, was only written): no rows here to report.
    await warehouse.close();
    await pubsub?.close();
    await feeds.close();
    await ops?.close();
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
      ...feedLines(feeds.feeds),
      ...(archive === undefined
        ? []
        : [`archive: ${archiveTally.rows} Bronze rows in ${archiveTally.files} files under ${archive.description}`]),
      metrics.unreported?.includes("drops") === true
        ? `too late for Gold: not counted on ${runner.name} (its runner drops late data without reporting it)`
        : `too late for Gold (beyond allowed lateness, kept in Bronze and Silver): sessions ${sessions.droppedLate}, hourly ${hourly.droppedLate}`,
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
  await feeds.close();
  await archive?.close();
  await ui?.close();
  await ops?.close();
}

/** What each feed published (confirmed by Pub/Sub), for a reader of the feed to know how much to expect. */
function feedLines(feeds: MedallionFeeds): string[] {
  const label: Record<keyof MedallionFeeds, string> = { insights: "session insights", deadLetters: "dead letters" };
  return (Object.keys(feeds) as (keyof MedallionFeeds)[]).flatMap((k) => {
    const target = feeds[k];
    return target === undefined
      ? []
      : [`${label[k]} feed: ${target.publisher().published} published to ${target.topic}`];
  });
}

function pubsubLine(s: PubsubSourceStats): string {
  return (
    `Pub/Sub: ${s.received} received, ${s.duplicatesDropped} re-deliveries dropped, ` +
    `${s.badTimestamps} unreadable timestamp attributes, ${s.reconnects} reconnects after the subscription went away`
  );
}

main().catch((e) => {
  if (jobLog === undefined) process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
  else jobLog.error(errorFields(e), `error: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
