import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { UserMetric } from "../../core/metrics.ts";
import { MAX_TIMESTAMP, MIN_TIMESTAMP } from "../../core/time/instant.ts";
import type { MetricsSnapshot } from "../direct/metrics.ts";
import type { CommitStats } from "./commit-stats.ts";
import type { JobProcessingTime } from "./step-time.ts";

/** What `JobMetrics` reads besides the runner's snapshot. */
export interface JobMetricsSources {
  /** The job's commits and checkpoints (the runner's commit hook feeds it); their metrics are not served without. */
  readonly commits?: CommitStats;
  /**
   * The job's processing time per step (`jobProcessingTime` over the job's own metrics containers and a sampler's
   * reading), read at each scrape; not served without, nor while it gives undefined (the job not started).
   */
  readonly processingTime?: () => JobProcessingTime | undefined;
  /**
   * Errors counted outside the export, as running totals by the `metric` label of
   * `tidemark_metrics_export_errors_total` (on Prism: `job_reading`, the Job API readings that failed), read at each
   * scrape.
   */
  readonly exportErrors?: () => Readonly<Record<string, number>>;
}

/** One sample of a metric the job adds itself (a source's figures, a derived age): its labels and value. */
export interface Sample {
  readonly labels?: Readonly<Record<string, string>>;
  readonly value: number;
}

/**
 * A running job's metrics as a Prometheus registry (prom-client): the runner's per-step figures, every user metric
 * (`core/metrics.ts`) under its own name, commits and checkpoints, and what the job adds (`counterOf`/`gaugeOf`, read
 * at each scrape). Names, as served at `/metrics`:
 * - `tidemark_step_elements_in_total`, `tidemark_step_elements_out_total`, `tidemark_step_dropped_late_total`,
 *   `tidemark_step_dropped_closed_total` {step}; `tidemark_step_input_watermark_seconds`,
 *   `tidemark_step_output_watermark_seconds`, `tidemark_step_open_windows` {step} (watermarks in epoch seconds:
 *   -Inf before any is known, the end of time, 8.64e12, once input is complete);
 *   `tidemark_source_watermark_lag_seconds` {step} (wall clock minus a source's watermark, while it has one); the
 *   figures the snapshot says the runner does not report (`MetricsSnapshot.unreported`: Prism's watermarks and drops)
 *   are left out;
 * - with `processingTime`: `tidemark_step_processing_seconds_total` {step} (wall time the step's own code ran,
 *   sampled: `step-time.ts`) for each of the job's steps that runs code in a metrics container (ParDo, stateful DoFn,
 *   grouping and combining, WindowInto, Flatten), and `tidemark_processing_other_seconds_total` (wall time outside any
 *   step: idle, waiting for I/O, the runner's code; not served when the source gives none, as on Prism, whose
 *   workers report their steps' time only). A sampler that failed is counted as an export error
 *   (`metric="processing_time"`) at each scrape, its series left out; so are the errors a source counts itself
 *   (`JobMetricsSources.exportErrors`: on Prism, `metric="job_reading"`, each failed reading of the job);
 * - a user counter `NS/NAME` as `NS_NAME_total` {step, its labels}; a gauge as `NS_NAME`; a distribution as
 *   `NS_NAME_count`, `_sum`, `_min`, `_max`;
 * - `tidemark_commits_total`, `tidemark_commit_seconds` (histogram: a commit's start until its checkpoint is
 *   written, or its writes settled without checkpoints), `tidemark_checkpoints_total`,
 *   `tidemark_last_checkpoint_timestamp_seconds` (read from `commits`, when given).
 */
export class JobMetrics {
  readonly registry = new Registry();
  private readonly dynamic = new Map<string, Counter | Gauge>();
  private readonly exportErrors: Counter;
  private readonly processingTime: (() => JobProcessingTime | undefined) | undefined;
  private readonly externalErrors: (() => Readonly<Record<string, number>>) | undefined;
  /** What `externalErrors` gave at the last scrape, by metric (the counter goes up by the difference). */
  private readonly externalErrorsServed = new Map<string, number>();
  /** Stops the commit histogram's observations (`close`). */
  private readonly unsubscribe: () => void;

  constructor(
    /** The running job's snapshot (the runner's `metrics()`), read at each scrape. */
    private readonly snapshot: () => MetricsSnapshot | undefined,
    private readonly now: () => number = Date.now,
    sources: JobMetricsSources = {},
  ) {
    const registers = [this.registry];
    this.processingTime = sources.processingTime;
    this.externalErrors = sources.exportErrors;
    this.exportErrors = new Counter({
      name: "tidemark_metrics_export_errors_total",
      help:
        "Metrics left out of an export (a user counter below zero, another label set under one name; a failed " +
        "processing-time sampler; a failed reading of the job through the runner's API)",
      labelNames: ["metric"],
      registers,
    });
    const commits = sources.commits;
    this.unsubscribe = commits === undefined ? () => {} : this.commitMetrics(commits);
  }

  /** Serves `commits`' figures; returns what stops the histogram's observations. */
  private commitMetrics(commits: CommitStats): () => void {
    const registers = [this.registry];
    new Counter({
      name: "tidemark_commits_total",
      help: "Commits finished",
      registers,
      collect() {
        this.reset();
        this.inc(commits.commits);
      },
    });
    new Counter({
      name: "tidemark_checkpoints_total",
      help: "Checkpoints written durably",
      registers,
      collect() {
        this.reset();
        this.inc(commits.checkpoints);
      },
    });
    new Gauge({
      name: "tidemark_last_checkpoint_timestamp_seconds",
      help: "When the last checkpoint was written (epoch seconds)",
      registers,
      collect() {
        const last = commits.lastCheckpointAtMs;
        this.set(last === null ? 0 : last / 1000);
      },
    });
    const commitSeconds = new Histogram({
      name: "tidemark_commit_seconds",
      help: "A commit's duration: its start until its checkpoint is written (or its writes settled without one)",
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    return commits.onDuration((seconds) => commitSeconds.observe(seconds));
  }

  /** Stops following the job's commits (the metrics stay as they are). */
  close(): void {
    this.unsubscribe();
  }

  /** A counter whose samples are read at each scrape (a source's running totals). */
  counterOf(name: string, help: string, labelNames: readonly string[], read: () => readonly Sample[]): void {
    new Counter({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const s of read()) this.inc(s.labels ?? {}, s.value);
      },
    });
  }

  /** A gauge whose samples are read at each scrape. */
  gaugeOf(name: string, help: string, labelNames: readonly string[], read: () => readonly Sample[]): void {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const s of read()) this.set(s.labels ?? {}, s.value);
      },
    });
  }

  /** The exposition text (`/metrics`), with the runner's figures as they are now. */
  async text(): Promise<string> {
    this.refresh();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Sets every metric from the runner's snapshot (creating user metrics seen for the first time). */
  refresh(): void {
    this.countExternalErrors();
    const snap = this.snapshot();
    if (snap === undefined) return;
    for (const m of this.dynamic.values()) m.reset();
    const now = this.now();
    // Counters count this process's work (Prometheus counters restart with the process): what a run resumed with
    // from a checkpoint is subtracted, so a restart reads as a reset, never as a burst.
    const resumed = new Map((snap.resumedWith ?? []).map((s) => [s.step, s]));
    // What the runner does not report is left out, never served as zeros (Prism: watermarks and drops).
    const unreported = new Set(snap.unreported ?? []);
    const drops = !unreported.has("drops");
    const watermarks = !unreported.has("watermarks");
    for (const s of snap.steps) {
      const step = { step: s.step };
      const r = resumed.get(s.step);
      const since = (v: number, at: number | undefined) => Math.max(0, v - (at ?? 0));
      this.counter("tidemark_step_elements_in_total", "Elements a step took in", ["step"]).inc(
        step,
        since(s.elementsIn, r?.elementsIn),
      );
      this.counter("tidemark_step_elements_out_total", "Elements a step output", ["step"]).inc(
        step,
        since(s.elementsOut, r?.elementsOut),
      );
      if (drops) {
        this.counter("tidemark_step_dropped_late_total", "Elements dropped: window expired", ["step"]).inc(
          step,
          since(s.droppedLate, r?.droppedLate),
        );
        this.counter("tidemark_step_dropped_closed_total", "Elements dropped: window closed", ["step"]).inc(
          step,
          since(s.droppedClosed, r?.droppedClosed),
        );
      }
      if (watermarks) {
        this.gauge("tidemark_step_input_watermark_seconds", "A step's input watermark", ["step"]).set(
          step,
          s.inputWatermark / 1000,
        );
        this.gauge("tidemark_step_output_watermark_seconds", "A step's output watermark", ["step"]).set(
          step,
          s.outputWatermark / 1000,
        );
      }
      if (s.windows !== undefined) {
        this.gauge("tidemark_step_open_windows", "Windows (or keys with state) a step holds", ["step"]).set(
          step,
          s.windows,
        );
      }
      if (watermarks && s.kind === "read" && s.outputWatermark > MIN_TIMESTAMP && s.outputWatermark < MAX_TIMESTAMP) {
        this.gauge("tidemark_source_watermark_lag_seconds", "Wall clock minus a source's watermark", ["step"]).set(
          step,
          (now - s.outputWatermark) / 1000,
        );
      }
    }
    this.processing();
    for (const u of snap.user) {
      try {
        this.user(u);
      } catch (e) {
        // One metric Prometheus cannot take (a counter gone below zero, another label set under one name) must not
        // take /metrics down with it: it is left out, and counted.
        this.exportErrors.inc({ metric: `${u.namespace}/${u.name}` });
        this.lastExportError = e instanceof Error ? e.message : String(e);
      }
    }
  }

  /** Adds the errors counted outside the export since the last scrape (`JobMetricsSources.exportErrors`). */
  private countExternalErrors(): void {
    for (const [metric, total] of Object.entries(this.externalErrors?.() ?? {})) {
      const served = this.externalErrorsServed.get(metric) ?? 0;
      if (total <= served) continue;
      this.exportErrors.inc({ metric }, total - served);
      this.externalErrorsServed.set(metric, total);
    }
  }

  /** The job's processing time per step, and the process's other time (see the class's comment). */
  private processing(): void {
    let times: JobProcessingTime | undefined;
    try {
      times = this.processingTime?.();
    } catch (e) {
      this.exportErrors.inc({ metric: "processing_time" });
      this.lastExportError = e instanceof Error ? e.message : String(e);
      return;
    }
    if (times === undefined) return;
    const perStep = this.counter(
      "tidemark_step_processing_seconds_total",
      "Wall time a step's own code ran (sampled, as Beam's process_bundle_msecs)",
      ["step"],
    );
    for (const [step, seconds] of times.steps) perStep.inc({ step }, seconds);
    if (times.otherSeconds === undefined) return;
    this.counter(
      "tidemark_processing_other_seconds_total",
      "Wall time outside any step (sampled): idle, waiting for I/O, the runner's own code",
      [],
    ).inc(times.otherSeconds);
  }

  /** Why the last user metric was left out of an export (for tests and logs). */
  lastExportError: string | undefined;

  private user(u: UserMetric): void {
    const base = promName(`${u.namespace}_${u.name}`);
    const labels = { step: u.step, ...u.labels };
    const names = Object.keys(labels);
    const help = `User metric ${u.namespace}/${u.name}`;
    if (u.kind === "counter") {
      this.counter(base.endsWith("_total") ? base : `${base}_total`, help, names).inc(labels, u.value);
    } else if (u.kind === "gauge") {
      if (!Number.isNaN(u.value)) this.gauge(base, help, names).set(labels, u.value);
    } else if (u.count > 0) {
      this.counter(`${base}_count`, `${help} (values reported)`, names).inc(labels, u.count);
      this.gauge(`${base}_sum`, `${help} (sum)`, names).set(labels, u.sum);
      this.gauge(`${base}_min`, `${help} (min)`, names).set(labels, u.min);
      this.gauge(`${base}_max`, `${help} (max)`, names).set(labels, u.max);
    }
  }

  private counter(name: string, help: string, labelNames: readonly string[]): Counter {
    return this.metric(name, () => new Counter({ name, help, labelNames, registers: [this.registry] })) as Counter;
  }

  private gauge(name: string, help: string, labelNames: readonly string[]): Gauge {
    return this.metric(name, () => new Gauge({ name, help, labelNames, registers: [this.registry] })) as Gauge;
  }

  private metric(name: string, make: () => Counter | Gauge): Counter | Gauge {
    let m = this.dynamic.get(name);
    if (m === undefined) {
      m = make();
      this.dynamic.set(name, m);
    }
    return m;
  }
}

/** A metric name Prometheus accepts: `[a-zA-Z_:][a-zA-Z0-9_:]*`, other characters as `_`. */
export function promName(raw: string): string {
  const s = raw.replace(/[^a-zA-Z0-9_:]/g, "_");
  return /^[a-zA-Z_:]/.test(s) ? s : `_${s}`;
}
