import type { Pipeline } from "../core/pipeline.ts";
import type { OptionValues } from "../core/options.ts";
import type { CommitPhase, CommitInfo, RunningPipeline } from "./direct/direct-runner.ts";
import { DirectRunner } from "./direct/direct-runner.ts";
import { startOnDataflow } from "./dataflow/dataflow-runner.ts";
import { DATAFLOW_OPTIONS } from "./dataflow/options.ts";
import { startOnPrism } from "./portable/prism-runner.ts";
import type { PipelineModuleSpec } from "./portable/worker/boot-spec.ts";

/**
 * The options every runner reads (Beam's `PipelineOptions`, `StreamingOptions` and the runner's own), declared once;
 * a pipeline's command line adds its own declarations beside them and parses both in one go (`core/options.ts`).
 */
export const RUNNER_OPTIONS = {
  runner: {
    type: "string",
    default: "direct",
    value: "NAME",
    help:
      "where the pipeline runs: direct (in this process), prism (Beam's Prism runner, started for the run, with the " +
      "DoFns in a Fn API worker in this process), dataflow (Google Cloud Dataflow, Runner v2: --project, --region, " +
      "--temp-location; --dry-run=DIR writes the job request without submitting)",
  },
  jobName: { type: "string", default: "tidemark-job", value: "NAME", help: "the job's name" },
  streaming: {
    type: "boolean",
    default: true,
    help: "run as a streaming job (the direct runner always streams; Dataflow's streaming mode)",
  },
  checkpointDir: {
    type: "string",
    value: "DIR",
    help:
      "checkpoint the runner's whole state here and resume from it after a crash; one process at a time per folder " +
      "(default: no checkpoints)",
  },
  checkpointSeconds: { type: "number", range: "non-negative", default: 5, help: "how often to checkpoint" },
  ...DATAFLOW_OPTIONS,
  maxBundleMs: {
    type: "number",
    range: "non-negative",
    default: 1000,
    value: "MS",
    help: "how long a sink's bundle (its write batch) may stay open across source events",
  },
} as const;

export type RunnerOptions = OptionValues<typeof RUNNER_OPTIONS>;

/** What a run's caller may observe: each step of the sources, each phase of each commit. */
export interface RunHooks {
  /**
   * The module that builds this pipeline in a worker process (for runners whose workers are other processes:
   * Dataflow's containers); its spec goes in the job's pipeline options (`tidemark_pipeline`).
   */
  readonly pipelineModule?: PipelineModuleSpec;
  /**
   * Sees the running pipeline after each step: on the direct runner each source event; on Prism the job's submission
   * (index 0: its id known) and then each reading of its state and metrics through the Job API (at once, then every
   * second). An error it throws fails the run.
   */
  readonly onStep?: (running: RunningPipeline, step: { readonly index: number; readonly event: string }) => unknown;
  readonly onCommit?: (phase: CommitPhase, commit: CommitInfo) => unknown;
  /**
   * The job's per-step processing time is wanted (a metrics endpoint serves it). On Prism the workers then sample it
   * and report it as Beam's `process_bundle_msecs`, and the running pipeline's metrics carry Prism's sums; the direct
   * runner's steps run in this process, whose sampler reads their containers (`RunningPipeline.metricsContainers`).
   */
  readonly processingTime?: boolean;
}

/** A runner: takes a pipeline graph and the options, and runs it. */
export interface PipelineRunner {
  readonly name: string;
  /** Why the runner cannot run pipelines yet, when it cannot (checked before anything is opened). */
  readonly unavailable?: string;
  start(pipeline: Pipeline, options: RunnerOptions, hooks?: RunHooks): RunningPipeline;
}

/** The runner of `--runner=direct`: the in-process streaming runner, with the options mapped to its own. */
export const DIRECT: PipelineRunner = {
  name: "direct",
  start(pipeline, options, hooks = {}) {
    let running: RunningPipeline | undefined;
    const onStep = hooks.onStep;
    running = new DirectRunner().start(pipeline, {
      ...(options.checkpointDir === undefined
        ? {}
        : { checkpoint: { dir: options.checkpointDir, intervalMs: options.checkpointSeconds * 1000 } }),
      maxBundleMs: options.maxBundleMs,
      jobName: options.jobName,
      ...(onStep === undefined ? {} : { onStep: (step) => onStep(running as RunningPipeline, step) }),
      ...(hooks.onCommit === undefined ? {} : { onCommit: hooks.onCommit }),
    });
    return running;
  },
};

/**
 * The runner of `--runner=prism`: Beam's Prism (v2.77.0, built by `scripts/go-tool.sh prism`) started for the run on
 * 127.0.0.1, the graph submitted through the Job API, the DoFns run by a Fn API worker in this process, the job
 * followed through the Job API while it runs (`onStep` at its submission, then after each reading). Prism keeps its state in memory: there
 * are no checkpoints (`--checkpoint-dir` is refused).
 */
export const PRISM: PipelineRunner = {
  name: "prism",
  start(pipeline, options, hooks = {}) {
    if (options.checkpointDir !== undefined) {
      throw new Error("--checkpoint-dir is the direct runner's: Prism keeps its state in memory, without checkpoints");
    }
    return startOnPrism(
      pipeline,
      { jobName: options.jobName, ...(hooks.processingTime === true ? { processingTime: true } : {}) },
      hooks.onStep === undefined ? {} : { onStep: hooks.onStep },
    );
  },
};

/** The runner of `--runner=dataflow` (`runners/dataflow/`): submits the job to Google Cloud Dataflow, or writes it. */
export const DATAFLOW: PipelineRunner = {
  name: "dataflow",
  start(pipeline, options, hooks = {}) {
    if (options.checkpointDir !== undefined) {
      throw new Error("--checkpoint-dir is the direct runner's: Dataflow keeps the job's state itself");
    }
    return startOnDataflow(pipeline, {
      ...options,
      ...(hooks.pipelineModule === undefined ? {} : { pipelineModule: hooks.pipelineModule }),
    });
  },
};

/** Every runner `--runner` can name. A constant table: adding a runner is adding a line here. */
export const RUNNERS: ReadonlyMap<string, PipelineRunner> = new Map([
  ["direct", DIRECT],
  ["prism", PRISM],
  ["dataflow", DATAFLOW],
]);

/** The runner named `name`, or an error listing the ones there are. */
export function runnerNamed(name: string): PipelineRunner {
  const r = RUNNERS.get(name);
  if (r === undefined) {
    throw new Error(`--runner must be one of ${[...RUNNERS.keys()].join(", ")}, got ${JSON.stringify(name)}`);
  }
  return r;
}
