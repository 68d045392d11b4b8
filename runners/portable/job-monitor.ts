import type { PipelineGraph } from "../../core/pipeline.ts";
import type { MetricsSnapshot, StepMetrics } from "../direct/metrics.ts";
import { ByteReader } from "./coders/bytes.ts";
import type { JobClient } from "./job-client.ts";
import { type MonitoringInfoShape, processingMsecsOf, userMetricsOf } from "./user-metrics.ts";

/** Beam's elements per PCollection (`beam:metric:element_count:v1`, an int64 sum labelled `PCOLLECTION`). */
export const ELEMENT_COUNT_URN = "beam:metric:element_count:v1";

/** One reading of a job through the Job API: its state and the monitoring infos the runner has committed so far. */
export interface JobReading {
  readonly jobId: string;
  /** Beam's JobState name (`RUNNING`, `DONE`, `FAILED`, ...). */
  readonly state: string;
  readonly infos: readonly MonitoringInfoShape[];
}

/** How `JobMonitor` reads a job, and what it tells its caller. */
export interface JobMonitorOptions {
  readonly intervalMs: number;
  /** Each reading. An error it throws (a hook's, a snapshot that cannot be made) stops the monitor: `onFailure`. */
  readonly onRead: (reading: JobReading) => void;
  /**
   * Called once, with what `onRead` threw, when the monitor has stopped because of it: the caller fails the run with
   * it (as the direct runner rejects a run whose step hook throws).
   */
  readonly onFailure: (error: unknown) => void;
  /** The clock of `JobReadings`' times (default `Date.now`). */
  readonly now?: () => number;
}

/** How the readings of a job go: for readiness (a job not read for a while) and the export error counter. */
export interface JobReadings {
  /** How often the job is read. */
  readonly intervalMs: number;
  /** When the last reading came (undefined before the first), on the monitor's clock. */
  readonly lastReadingAtMs: number | undefined;
  /** Time since the last reading came, or since the monitor started when none has yet. */
  readonly sinceReadingMs: number;
  /** Readings that failed so far (the Job API's error or deadline), and the last failure's error. */
  readonly failures: number;
  readonly lastError: string | undefined;
}

/**
 * Follows a job while it runs: its state and metrics are read through the Job API (`GetState`, then `GetJobMetrics`)
 * at once and then every `intervalMs`, each reading handed to `onRead`, until `stop`. A reading that fails (the runner
 * busy past the deadline, gone) is counted with its error (`readings`) and the next one tried; the job's end is not
 * this monitor's to see (the caller follows the state stream, `JobClient.waitUntilFinish`, and stops it).
 *
 * Measured on Prism v2.77.0 (the medallion over the shipped fixture, 1,480 messages in about 29 s, read every second):
 * the committed metrics grow while the job is RUNNING, from the first second on (Prism tallies each bundle's
 * `ProcessBundleResponse` as the bundle finishes, `stage.go`), so a reading mid-run is the work of every finished
 * bundle; the attempted ones stayed empty (Prism fills them from progress reports' short-id data, which Tidemark's
 * workers do not send).
 */
export class JobMonitor {
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private reading: Promise<void> = Promise.resolve();
  /** Cancels the Job API calls under way when the monitor stops. */
  private readonly abort = new AbortController();
  private readonly now: () => number;
  private readonly startedAtMs: number;
  private lastReadingAtMs: number | undefined;
  private failures = 0;
  private lastError: string | undefined;

  constructor(
    private readonly client: Pick<JobClient, "state" | "metrics">,
    readonly jobId: string,
    private readonly options: JobMonitorOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.startedAtMs = this.now();
    this.tick();
  }

  /** How the readings go so far. */
  readings(): JobReadings {
    return {
      intervalMs: this.options.intervalMs,
      lastReadingAtMs: this.lastReadingAtMs,
      sinceReadingMs: this.now() - (this.lastReadingAtMs ?? this.startedAtMs),
      failures: this.failures,
      lastError: this.lastError,
    };
  }

  private tick(): void {
    this.reading = this.read()
      .catch((e: unknown) => this.fail(e))
      .finally(() => {
        if (!this.stopped) this.timer = setTimeout(() => this.tick(), this.options.intervalMs);
      })
      // `fail` hands the error on; nothing is left to reject with (a rejection here would end the process).
      .catch(() => {});
  }

  private async read(): Promise<void> {
    const deadlineMs = Math.max(this.options.intervalMs, 5_000);
    const signal = this.abort.signal;
    let reading: JobReading;
    try {
      const state = await this.client.state(this.jobId, deadlineMs, signal);
      const infos = await this.client.metrics(this.jobId, deadlineMs, signal);
      reading = { jobId: this.jobId, state, infos };
    } catch (e) {
      if (this.stopped) return; // cancelled by `stop`: not a failure of the Job API
      this.failures++;
      this.lastError = e instanceof Error ? e.message : String(e);
      return; // the next reading is tried (see the class's comment)
    }
    if (this.stopped) return;
    this.lastReadingAtMs = this.now();
    this.options.onRead(reading);
  }

  /** `onRead` threw: the monitor stops and the caller is told, once. */
  private fail(error: unknown): void {
    if (this.stopped) return;
    this.halt();
    this.options.onFailure(error);
  }

  private halt(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort();
  }

  /** Stops reading: a reading under way is cancelled, and none is handed on after this resolves. */
  async stop(): Promise<void> {
    this.halt();
    await this.reading;
  }
}

/** Elements per PCollection among a job's monitoring infos (the runner's sums of `element_count`). */
export function elementCountsOf(infos: readonly MonitoringInfoShape[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const info of infos) {
    if (info.urn !== ELEMENT_COUNT_URN) continue;
    const pc = info.labels.PCOLLECTION ?? "";
    out.set(pc, (out.get(pc) ?? 0) + Number(new ByteReader(info.payload).varintBig()));
  }
  return out;
}

/**
 * A job's metrics as the runner reports them through the Job API, in the direct runner's shape (`MetricsSnapshot`,
 * so the same exporters serve them under the same names):
 * - per step, elements in and out: the counts of its input and output PCollections (`element_count`, each element
 *   counted once by Tidemark's workers, `BundleProcessor.monitoringInfos`);
 * - user metrics (`userMetricsOf`) and processing time per step (`processingSeconds`, from `process_bundle_msecs`, when
 *   the workers report it), under the step name `stepOf` gives a transform id;
 * - not reported (`unreported`): watermarks, which are the runner's and not in the Job API, and drops (late data and
 *   closed windows are dropped inside the runner, which counts neither); their fields are placeholders: watermarks
 *   -Infinity (not known) while the job runs and +Infinity once it has `finished`, drops 0. Open windows (the runner's
 *   state) are absent too.
 */
export function jobMetricsSnapshot(
  graph: PipelineGraph,
  infos: readonly MonitoringInfoShape[],
  stepOf: (transformId: string) => string | undefined,
  at: { readonly nowMs: number; readonly finished: boolean },
): MetricsSnapshot {
  const counts = elementCountsOf(infos);
  const sum = (pcs: readonly string[]) => pcs.reduce((n, pc) => n + (counts.get(pc) ?? 0), 0);
  const watermark = at.finished ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  const steps: StepMetrics[] = graph.primitives.map((t) => ({
    step: t.fullName,
    kind: t.primitive?.kind ?? "composite",
    elementsIn: sum(t.inputs),
    elementsOut: sum(Object.values(t.outputs)),
    droppedLate: 0,
    droppedClosed: 0,
    inputWatermark: watermark,
    outputWatermark: watermark,
  }));
  const msecs = infos.some((i) => i.urn.startsWith("beam:metric:pardo_execution_time:"))
    ? new Map([...processingMsecsOf(infos, stepOf)].map(([step, ms]) => [step, ms / 1000]))
    : undefined;
  return {
    steps,
    user: userMetricsOf(infos, stepOf),
    processingTime: at.nowMs,
    sourceEvents: 0,
    unreported: ["watermarks", "drops"],
    ...(msecs === undefined ? {} : { processingSeconds: msecs }),
  };
}
