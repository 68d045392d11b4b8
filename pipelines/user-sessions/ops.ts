import type { MetricsContainer, UserMetric } from "../../core/metrics.ts";
import type { PubsubSourceStats } from "../../io/pubsub/pubsub-source.ts";
import type { RunnerJobState } from "../../runners/direct/direct-runner.ts";
import type { MetricsSnapshot } from "../../runners/direct/metrics.ts";
import type { CommitStats } from "../../runners/observe/commit-stats.ts";
import type { JobReadings } from "../../runners/portable/job-monitor.ts";
import { JobMetrics } from "../../runners/observe/prometheus.ts";
import { type OpsServer, type ReadinessCheck, startOpsServer } from "../../runners/observe/server.ts";
import { jobProcessingTime, type StepTimeSampler, startStepTimeSampler } from "../../runners/observe/step-time.ts";

/** The running job as the endpoints read it (a `RunningPipeline`). */
export interface WatchedJob {
  metrics(): MetricsSnapshot;
  /** The job's own metrics containers (its steps' processing time); a runner that runs the steps elsewhere has none. */
  metricsContainers?(): readonly MetricsContainer[];
  /** The job's state in a runner that runs it elsewhere (Prism): readiness follows it. */
  jobState?(): RunnerJobState;
  /**
   * How the readings of a job run elsewhere go (Prism's Job API, `runners/portable/job-monitor.ts`), while it runs:
   * readiness fails when none came for 3 intervals, and the failed readings are counted as export errors.
   */
  jobReadings?(): JobReadings | undefined;
}

/**
 * The direct runner's metrics `/metrics` does not serve on Prism, each with the reason. The rest are served under the
 * same names and labels, read from the Job API while the job runs (`runners/portable/job-monitor.ts`): elements in and
 * out per step (Beam's `element_count`), processing time per step (`process_bundle_msecs`, as the workers sample it),
 * every user metric (dead letters by field, the sinks' rows, batch times and write errors, Gold's newest event and so
 * its freshness). The Pub/Sub reader's figures are not in this list: Prism reads no Pub/Sub (`--runner=prism` takes
 * fixture inputs only, as TestStream).
 */
export const PRISM_UNSERVED_METRICS: Readonly<Record<string, string>> = {
  tidemark_step_input_watermark_seconds: "watermarks are Prism's own: the Job API reports none",
  tidemark_step_output_watermark_seconds: "watermarks are Prism's own: the Job API reports none",
  tidemark_source_watermark_lag_seconds: "the source (a TestStream) runs inside Prism, whose watermark is not reported",
  tidemark_step_dropped_late_total: "Prism drops data past the allowed lateness itself, without counting it",
  tidemark_step_dropped_closed_total: "Prism drops data for closed windows itself, without counting it",
  tidemark_step_open_windows: "windows and their state are kept by Prism, which reports no count of them",
  tidemark_processing_other_seconds_total:
    "the workers report their steps' time only (process_bundle_msecs); Prism's own time is not sampled",
  tidemark_commits_total: "Prism commits bundles itself: there are no Tidemark commits",
  tidemark_commit_seconds: "Prism commits bundles itself: there are no Tidemark commits",
  tidemark_checkpoints_total: "Prism keeps its state in memory: no checkpoints (--checkpoint-dir is refused)",
  tidemark_last_checkpoint_timestamp_seconds:
    "Prism keeps its state in memory: no checkpoints (--checkpoint-dir is refused)",
};

/** Job states in which a job is ready: running, or finished cleanly (as a direct run stays ready once it ends). */
const READY_STATES = new Set(["RUNNING", "DONE"]);

/** The medallion's operations endpoints while it runs (`--metrics-port`): metrics, liveness, readiness. */
export interface MedallionOps {
  readonly url: string;
  /** The running job, once it runs. */
  watch(job: WatchedJob): void;
  /** The warehouse is open (its tables created or checked). */
  warehouseOpened(): void;
  /** Stops the sampler and the server (both, even when the first fails). */
  close(): Promise<void>;
}

export interface MedallionOpsOptions {
  readonly port: number;
  readonly host: string;
  /** The Pub/Sub reader's figures; absent for a fixture stream. */
  readonly pubsub?: () => PubsubSourceStats;
  readonly subscription?: string;
  /**
   * The job is the reader of the tenants' catch-all (`--tenant-catch-all`), which dead-letters every message by
   * design: served as `medallion_tenant_catch_all_reader` 1 (else 0), so that the dead-letter rate alert leaves it out.
   */
  readonly tenantCatchAll?: boolean;
  /** Checkpoint interval when the run checkpoints: readiness fails when the last checkpoint is older than 3 of them. */
  readonly checkpointIntervalMs?: number;
  /**
   * The job's commits and checkpoints, fed by the runner's commit hook (the one record the dashboard reads too; on the
   * same clock as `now`): `/metrics` serves them, and readiness reads the last checkpoint's age from them. Absent for
   * a runner without Tidemark's commits (Prism commits bundles itself and keeps no checkpoints): not served then.
   */
  readonly commits?: CommitStats;
  /**
   * Where per-step processing time comes from: `sampled` (default), this process samples the job's metrics containers
   * (the direct runner); `reported`, the runner reports it in the job's metrics (`MetricsSnapshot.processingSeconds`:
   * Prism's sums of its workers' `process_bundle_msecs`), and no sampler runs here.
   */
  readonly processingTime?: "sampled" | "reported";
  readonly now?: () => number;
}

/**
 * The `job` readiness check of a job a runner runs elsewhere (Prism): its state is RUNNING or DONE, and while it runs
 * it was read within the last 3 intervals (a job the Job API no longer answers for is not known to be running: the
 * detail names the last reading's error).
 */
export function jobCheck(state: RunnerJobState, readings: JobReadings | undefined): ReadinessCheck {
  const id = state.jobId === "" ? "" : ` ${state.jobId}`;
  if (!READY_STATES.has(state.state)) {
    const why = state.failure === undefined ? "" : `: ${state.failure}`;
    return { name: "job", ok: false, detail: `the runner's job${id} is ${state.state}${why}` };
  }
  if (readings !== undefined && readings.sinceReadingMs > 3 * readings.intervalMs) {
    const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;
    const since = readings.lastReadingAtMs === undefined ? "since it was submitted" : "since the last";
    const why = readings.lastError === undefined ? "" : `; the last error: ${readings.lastError}`;
    return {
      name: "job",
      ok: false,
      detail:
        `no reading of the runner's job${id} in ${seconds(readings.sinceReadingMs)} ${since} (read every ` +
        `${seconds(readings.intervalMs)}; ${readings.failures} failed)${why}`,
    };
  }
  return { name: "job", ok: true };
}

/** Gold's freshness: `at` minus the newest event time written to Gold (`medallion/gold_newest_event_ms`), seconds. */
export function goldFreshnessSeconds(user: readonly UserMetric[], at: number): number | null {
  const newest = user.find((u) => u.namespace === "medallion" && u.name === "gold_newest_event_ms");
  return newest?.kind === "gauge" && Number.isFinite(newest.value) ? (at - newest.value) / 1000 : null;
}

/**
 * Starts the endpoints (`runners/observe/`) with the medallion's own figures beside the runner's:
 * - Pub/Sub: `tidemark_pubsub_received_total`, `_acknowledged_total`, `_redelivered_total` (re-deliveries dropped),
 *   `_bad_timestamps_total`, `_reconnects_total`, `tidemark_pubsub_outstanding_messages`, `tidemark_pubsub_connected`.
 *   The backlog (undelivered messages, oldest unacknowledged age) is not in the Pub/Sub API: Cloud Monitoring has it
 *   (`subscription/num_undelivered_messages`, `oldest_unacked_message_age`), and the alert policies read it there;
 * - per-step processing time (`tidemark_step_processing_seconds_total`, the watched job's steps): a sampler thread
 *   runs while the endpoints do (started once the port is listened on), or, `processingTime: "reported"`, the
 *   runner's own figures (Prism);
 * - `medallion_gold_freshness_seconds`: now minus the newest event time written to Gold (the `WriteSessions` step's
 *   `medallion/gold_newest_event_ms` gauge);
 * - `medallion_tenant_catch_all_reader`: 1 for the reader of the tenants' catch-all (`tenantCatchAll`), else 0;
 * - `/readyz`: the source reads its subscription, the warehouse is open, and (with checkpoints) the last checkpoint is
 *   at most 3 intervals old, or the run is younger than that, or nothing waits for one (the runner checkpoints only
 *   what changed: an idle subscription, with every message acknowledged, writes none and is still ready); for a job
 *   a runner runs elsewhere (`WatchedJob.jobState`, Prism), its state is RUNNING or DONE, else not ready with the
 *   state and, for a failed job, the reason; and while it runs it was read within 3 intervals (`jobCheck`);
 * - `tidemark_metrics_export_errors_total{metric="job_reading"}`: the readings of such a job that failed.
 */
export async function startMedallionOps(o: MedallionOpsOptions): Promise<MedallionOps> {
  const now = o.now ?? Date.now;
  const started = now();
  let job: WatchedJob | undefined;
  const snapshot = () => job?.metrics();
  let warehouseOpen = false;
  const commits = o.commits;
  let sampler: StepTimeSampler | undefined;
  const reported = o.processingTime === "reported";
  const metrics = new JobMetrics(snapshot, now, {
    ...(commits === undefined ? {} : { commits }),
    exportErrors: (): Record<string, number> => {
      const readings = job?.jobReadings?.();
      return readings === undefined ? {} : { job_reading: readings.failures };
    },
    processingTime: () => {
      const j = job;
      if (reported) {
        const steps = j?.metrics().processingSeconds;
        return steps === undefined ? undefined : { steps };
      }
      const s = sampler;
      return s === undefined || j === undefined
        ? undefined
        : jobProcessingTime(s.read(), j.metricsContainers?.() ?? []);
    },
  });
  const stats = o.pubsub;
  if (stats !== undefined) {
    const counter = (name: string, help: string, read: (s: PubsubSourceStats) => number) =>
      metrics.counterOf(name, help, [], () => [{ value: read(stats()) }]);
    counter("tidemark_pubsub_received_total", "Pub/Sub messages received (re-deliveries included)", (s) => s.received);
    counter(
      "tidemark_pubsub_acknowledged_total",
      "Pub/Sub messages acknowledged (their checkpoint durable)",
      (s) => s.acked,
    );
    counter(
      "tidemark_pubsub_redelivered_total",
      "Pub/Sub re-deliveries dropped (seen before)",
      (s) => s.duplicatesDropped,
    );
    counter("tidemark_pubsub_bad_timestamps_total", "Unreadable timestamp attributes", (s) => s.badTimestamps);
    counter(
      "tidemark_pubsub_reconnects_total",
      "Times the subscription went away and was awaited",
      (s) => s.reconnects,
    );
    metrics.gaugeOf("tidemark_pubsub_outstanding_messages", "Received and not yet acknowledged", [], () => [
      { value: stats().outstanding },
    ]);
    metrics.gaugeOf("tidemark_pubsub_connected", "1 while the reader reads its subscription", [], () => [
      { value: stats().connected ? 1 : 0 },
    ]);
  }
  const catchAllReader = o.tenantCatchAll === true ? 1 : 0;
  metrics.gaugeOf(
    "medallion_tenant_catch_all_reader",
    "1 when this job reads the tenants' catch-all (--tenant-catch-all: every message is dead-lettered by design)",
    [],
    () => [{ value: catchAllReader }],
  );
  metrics.gaugeOf("medallion_gold_freshness_seconds", "Now minus the newest event time written to Gold", [], () => {
    const s = snapshot();
    const freshness = s === undefined ? null : goldFreshnessSeconds(s.user, now());
    return freshness === null ? [] : [{ value: freshness }];
  });
  const readiness = (): ReadinessCheck[] => {
    const checks: ReadinessCheck[] = [];
    if (stats !== undefined) {
      const s = stats();
      checks.push(
        s.connected
          ? { name: "source", ok: true }
          : {
              name: "source",
              ok: false,
              detail:
                s.reconnects > 0
                  ? `Pub/Sub subscription ${o.subscription ?? ""} went away; waiting for it to be back`
                  : `not reading Pub/Sub subscription ${o.subscription ?? ""} yet`,
            },
      );
    } else checks.push({ name: "source", ok: job !== undefined, ...(job ? {} : { detail: "not started" }) });
    checks.push(
      warehouseOpen ? { name: "warehouse", ok: true } : { name: "warehouse", ok: false, detail: "not open yet" },
    );
    const runnerJob = job?.jobState?.();
    if (runnerJob !== undefined) checks.push(jobCheck(runnerJob, job?.jobReadings?.()));
    const interval = o.checkpointIntervalMs;
    if (interval !== undefined && commits !== undefined) {
      const lastCheckpoint = commits.lastCheckpointAtMs;
      const since = lastCheckpoint ?? started;
      const age = now() - since;
      const limit = 3 * Math.max(interval, 1_000);
      const waiting = stats === undefined || stats().outstanding > 0;
      checks.push(
        age <= limit || !waiting
          ? { name: "checkpoint", ok: true }
          : {
              name: "checkpoint",
              ok: false,
              detail:
                lastCheckpoint === null
                  ? `no checkpoint written in ${Math.round(age / 1000)} s (expected every ${interval / 1000} s)`
                  : `the last checkpoint is ${Math.round(age / 1000)} s old (expected every ${interval / 1000} s)`,
            },
      );
    }
    return checks;
  };
  let server: OpsServer;
  try {
    server = await startOpsServer({ port: o.port, host: o.host, metrics, readiness });
  } catch (e) {
    throw new Error(`--metrics-port=${o.port}: cannot listen on ${o.host}: ${(e as Error).message}`, { cause: e });
  }
  try {
    if (!reported) sampler = await startStepTimeSampler();
  } catch (e) {
    await server.close();
    throw e;
  }
  const running = sampler;
  return {
    url: server.url,
    watch(j) {
      job = j;
    },
    warehouseOpened() {
      warehouseOpen = true;
    },
    async close() {
      metrics.close();
      try {
        await running?.stop();
      } finally {
        await server.close();
      }
    },
  };
}
