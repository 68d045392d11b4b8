import { parseOptions } from "../../core/options.ts";
import { Pipeline } from "../../core/pipeline.ts";
import type { Source } from "../../core/source.ts";
import type { Warehouse } from "../../io/warehouse.ts";
import type { RunningPipeline } from "../../runners/direct/direct-runner.ts";
import type { MetricsSnapshot } from "../../runners/direct/metrics.ts";
import { type RunHooks, type RunnerOptions, RUNNER_OPTIONS, runnerNamed } from "../../runners/runner.ts";
import type { RawMessage } from "../../schemas/event.ts";
import { type MedallionArchive, type MedallionFeeds, medallion, type UserSessionsOptions } from "./pipeline.ts";
import type { MedallionWrites } from "./sinks.ts";

export interface MedallionRun {
  readonly metrics: MetricsSnapshot;
  /** Rows the sinks committed, and the source elements acknowledged (finalized by the runner). */
  readonly written: MedallionWrites & { readonly acknowledged: number };
  /** Wall time from the start of the run until the last write is committed. */
  readonly elapsedMs: number;
  /** The checkpoint the run resumed from (its sequence number), if any. */
  readonly resumedFrom: number | undefined;
  readonly checkpoints: number;
}

/** How `runMedallion` runs: the runner's options (Beam's PipelineOptions) and the hooks. */
export interface MedallionRunOptions {
  /** Sees the running pipeline after each runner step (for a progress line, and tests). */
  readonly onStep?: (running: RunningPipeline, index: number, startedMs: number) => unknown;
  readonly onCommit?: RunHooks["onCommit"];
  /** Rows per warehouse batch. Default 50,000. */
  readonly flushRows?: number;
  /** Checkpoint folder (`--checkpoint-dir`); the runner resumes from it and removes it after a clean end. */
  readonly checkpointDir?: string;
  /** Default 5 s. */
  readonly checkpointIntervalMs?: number;
  /** The runner's other options; default the command line's defaults. */
  readonly runner?: Partial<RunnerOptions>;
  /** How worker processes build this job (for runners whose workers are other processes: Dataflow). */
  readonly pipelineModule?: RunHooks["pipelineModule"];
  /** The job's per-step processing time is wanted (`RunHooks.processingTime`: on Prism, the workers report it). */
  readonly processingTime?: boolean;
}

/**
 * Builds the medallion job (one graph, sinks included) and runs it on the runner the options name (default the
 * direct runner). Everything about commits (writes settled, then the checkpoint, then the Gold writer's stable input,
 * then acknowledgement) is the runner's: see `runners/direct/direct-runner.ts`.
 */
export async function runMedallion(
  stream: Source<RawMessage>,
  warehouse: Warehouse,
  options: UserSessionsOptions & { readonly feeds?: MedallionFeeds; readonly archive?: MedallionArchive },
  run: MedallionRunOptions = {},
): Promise<MedallionRun> {
  const p = Pipeline.create();
  const { writes } = medallion(p, stream, warehouse, {
    ...options,
    ...(run.flushRows === undefined ? {} : { batchRows: run.flushRows }),
  });
  const runnerOptions: RunnerOptions = {
    // The runner options' defaults (no command line, no environment: the caller's options say the rest).
    ...parseOptions(RUNNER_OPTIONS, []).options,
    ...run.runner,
    ...(run.checkpointDir === undefined ? {} : { checkpointDir: run.checkpointDir }),
    ...(run.checkpointIntervalMs === undefined ? {} : { checkpointSeconds: run.checkpointIntervalMs / 1000 }),
  };
  const started = performance.now();
  const { onStep, onCommit, pipelineModule } = run;
  const running = runnerNamed(runnerOptions.runner).start(p, runnerOptions, {
    ...(pipelineModule === undefined ? {} : { pipelineModule }),
    ...(run.processingTime === true ? { processingTime: true } : {}),
    ...(onStep === undefined ? {} : { onStep: (r, step) => onStep(r, step.index, started) }),
    ...(onCommit === undefined ? {} : { onCommit }),
  });
  const metrics = await running.waitUntilFinish();
  const stats = running.commitStats();
  return {
    metrics,
    written: { ...writes, acknowledged: stats.finalized },
    elapsedMs: performance.now() - started,
    resumedFrom: stats.resumedFrom,
    checkpoints: stats.checkpoints,
  };
}
