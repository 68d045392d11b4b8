import type { UserMetric } from "../../core/metrics.ts";

/** What the runner reports per step, at the end of a run and while it runs. */
export interface StepMetrics {
  readonly step: string;
  readonly kind: string;
  readonly elementsIn: number;
  readonly elementsOut: number;
  /** Elements dropped because their window had expired (later than window end + allowed lateness). */
  readonly droppedLate: number;
  /** Elements dropped because their window's trigger had finished (closed window). */
  readonly droppedClosed: number;
  /** Watermarks as epoch ms; -Infinity before any is known, +Infinity once input is complete. */
  readonly inputWatermark: number;
  readonly outputWatermark: number;
  /** Open windows (grouping steps only). */
  readonly windows?: number;
}

export interface MetricsSnapshot {
  readonly steps: readonly StepMetrics[];
  /**
   * The steps' counts this run resumed with from a checkpoint (the counts above include them: they are the job's);
   * absent when it started afresh. An exporter whose counters restart with the process subtracts them.
   */
  readonly resumedWith?: readonly StepMetrics[];
  /** The user metrics of every step (`core/metrics.ts`), and those counted outside any step (step `""`). */
  readonly user: readonly UserMetric[];
  readonly processingTime: number;
  /** Source events handled so far (bundles and watermark or clock moves). */
  readonly sourceEvents: number;
  /**
   * Per-step figures the runner does not report (a runner that runs the job elsewhere: Prism's Job API gives element
   * counts, processing time and user metrics, not watermarks or drops): their fields above are placeholders, and
   * exporters leave them out rather than serve them.
   */
  readonly unreported?: readonly UnreportedFigure[];
  /**
   * Seconds of processing time per step, as a runner that runs the steps elsewhere reports them (Prism: its sums of
   * the workers' `process_bundle_msecs`); absent where this process samples its own (`runners/observe/step-time.ts`).
   */
  readonly processingSeconds?: ReadonlyMap<string, number>;
}

/** Figures a runner may not report: watermarks (input, output, a source's lag), drops (late, closed windows). */
export type UnreportedFigure = "watermarks" | "drops";

/** The metrics of one step by name; throws when there is no such step. */
export function stepMetrics(snapshot: MetricsSnapshot, step: string): StepMetrics {
  const m = snapshot.steps.find((s) => s.step === step);
  if (!m) throw new Error(`no step named "${step}"; steps: ${snapshot.steps.map((s) => s.step).join(", ")}`);
  return m;
}
