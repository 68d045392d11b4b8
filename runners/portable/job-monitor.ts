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

/**
 * Follows a job while it runs: its state and metrics are read through the Job API (`GetState`, then `GetJobMetrics`)
 * at once and then every `intervalMs`, each reading handed to `onRead`, until `stop`. A reading that fails (the runner
 * busy past the deadline) is skipped and the next one tried; the job's end is not this monitor's to see (the caller
 * follows the state stream, `JobClient.waitUntilFinish`, and stops it).
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

  constructor(
    private readonly client: JobClient,
    readonly jobId: string,
    private readonly options: { readonly intervalMs: number; readonly onRead: (reading: JobReading) => void },
  ) {
    this.tick();
  }

  private tick(): void {
    this.reading = this.read().finally(() => {
      if (!this.stopped) this.timer = setTimeout(() => this.tick(), this.options.intervalMs);
    });
  }

  private async read(): Promise<void> {
    const deadlineMs = Math.max(this.options.intervalMs, 5_000);
    let reading: JobReading;
    try {
      const state = await this.client.state(this.jobId, deadlineMs);
      const infos = await this.client.metrics(this.jobId, deadlineMs);
      reading = { jobId: this.jobId, state, infos };
    } catch {
      return; // the next reading is tried (see the class's comment)
    }
    if (!this.stopped) this.options.onRead(reading);
  }

  /** Stops reading (a reading under way ends first; none is handed on after this resolves). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
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
