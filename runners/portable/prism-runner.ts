import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { create, type JsonObject, toBinary } from "@bufbuild/protobuf";
import type { Pipeline } from "../../core/pipeline.ts";
import type { RunningPipeline, RunnerJobState } from "../direct/direct-runner.ts";
import type { MetricsSnapshot } from "../direct/metrics.ts";
import { type StepTimeSampler, startStepTimeSampler } from "../observe/step-time.ts";
import { processingMsecsOf } from "./user-metrics.ts";
import { JobClient, type JobResult } from "./job-client.ts";
import { type JobReading, type JobReadings, JobMonitor, jobMetricsSnapshot } from "./job-monitor.ts";
import { type Prism, startPrism } from "./prism.ts";
import {
  ExternalPayloadSchema,
  ProcessPayloadSchema,
} from "./proto/generated/org/apache/beam/model/pipeline/v1/beam_runner_api_pb.ts";
import { readTestStreams, translate } from "./translate.ts";
import { URNS } from "./urns.ts";
import {
  PIPELINE_MODULE_OPTION,
  type PipelineModuleSpec,
  PROCESSING_TIME_OPTION,
  TRANSLATION_OPTION,
  translationSpec,
} from "./worker/boot-spec.ts";
import { startWorkerPool } from "./worker/pool.ts";

/** The worker a PROCESS environment starts: `bin/tidemark-worker` of this checkout. */
const WORKER_COMMAND = fileURLToPath(new URL("../../bin/tidemark-worker", import.meta.url));

export interface PrismRunOptions {
  readonly jobName?: string;
  /**
   * Where the SDK worker runs: in this process (default; Beam's LOOPBACK: an EXTERNAL environment served by this
   * process's worker pool), or in processes the runner starts (Beam's PROCESS environment: `bin/tidemark-worker`,
   * which builds the pipeline from the module named here, `runners/portable/worker/boot.ts`). Either way
   * the run's metrics are those the workers reported to Prism, read back through the Job API.
   */
  readonly worker?: "loopback" | { readonly process: PipelineModuleSpec };
  /** Cancels the job when aborted (the run then rejects, the job ended CANCELLED). */
  readonly signal?: AbortSignal;
  /** A Prism already running (its Job API endpoint); default: one started for the run and stopped after. */
  readonly jobEndpoint?: string;
  /**
   * Samples per-step processing time while the job runs (a sampler thread, `runners/observe/step-time.ts`, in this
   * process for the loopback worker, in each worker process otherwise: the option `tidemark_processing_time`): the
   * workers report it per bundle as Beam's `process_bundle_msecs`, and the run gives Prism's sums back.
   */
  readonly processingTime?: boolean;
  /**
   * Follows the job while it runs: its state and metrics read through the Job API at once and then every
   * `intervalMs` (`JobMonitor`), each reading handed to `onRead` as the job's metrics in the direct runner's shape
   * (`jobMetricsSnapshot`: element counts per step, user metrics, processing time; no watermarks or drops).
   */
  readonly follow?: { readonly intervalMs: number; readonly onRead: (job: PrismJobReading) => void };
  /**
   * Called once Prism has accepted the job, before its first reading: the caller knows the job from then on (one that
   * fails before its first reading too).
   */
  readonly onSubmitted?: (job: SubmittedJob) => void;
}

/**
 * A job Prism has accepted. An error thrown by `onSubmitted` or `follow.onRead`, or handed to `fail`, cancels the job
 * and fails the run with that error (as the direct runner rejects a run whose step hook throws).
 */
export interface SubmittedJob {
  readonly jobId: string;
  /** How the readings of `follow` go (undefined without `follow`). */
  readings(): JobReadings | undefined;
  fail(error: unknown): void;
}

/** A reading of a running Prism job: its id, its state (Beam's JobState name) and its metrics so far. */
export interface PrismJobReading {
  readonly jobId: string;
  readonly state: string;
  readonly metrics: MetricsSnapshot;
}

/** A Prism job that did not end DONE: its final state (`FAILED`, `CANCELLED`, ...) with the reasons in the message. */
export class PrismJobError extends Error {
  constructor(
    message: string,
    readonly state: string,
  ) {
    super(message);
    this.name = "PrismJobError";
  }
}

/** A finished Prism job: its result, and its metrics as Prism summed the workers' monitoring infos. */
export interface PrismRun {
  readonly result: JobResult;
  /** Per-step element counts, user metrics and (with `processingTime`) processing time: `jobMetricsSnapshot`. */
  readonly metrics: MetricsSnapshot;
  /** With `processingTime`: milliseconds per step, as Prism summed the worker's `process_bundle_msecs`. */
  readonly processingMs?: ReadonlyMap<string, number>;
}

/**
 * Runs a Tidemark pipeline on Beam's Prism runner: the graph translated to a Runner API pipeline (fixture streams as
 * TestStream), submitted through the Job API, its SDK steps run by a Fn API worker in this process (an EXTERNAL
 * environment served by this process's worker pool, as Beam's LOOPBACK mode). Unbounded sources other than fixture
 * streams are refused: Prism has no connector for them, and a worker reading one would never end.
 */
export async function runOnPrism(pipeline: Pipeline, options: PrismRunOptions = {}): Promise<PrismRun> {
  const graph = pipeline.graph();
  for (const t of graph.transforms.values()) {
    const p = t.primitive;
    if (p?.kind === "read" && !p.source.bounded && p.source.drivesProcessingTime !== true) {
      throw new Error(
        `--runner=prism cannot read "${t.fullName}" (${p.source.name}): it is an unbounded source, and Prism has no ` +
          "connector for it (Pub/Sub runs on the direct runner or Dataflow); on Prism, read a fixture stream",
      );
    }
  }
  const testStreams = await readTestStreams(graph);
  const worker = options.worker ?? "loopback";
  const sampled = options.processingTime === true;
  // The loopback worker runs here: so does its sampler (a process worker runs its own).
  const sampler = sampled && worker === "loopback" ? await startStepTimeSampler() : undefined;
  let run: PrismRun;
  try {
    run = await runWithSampler(pipeline, options, testStreams, sampler);
  } catch (e) {
    // The run's error is the one to see (a sampler that failed too is second to it).
    await sampler?.stop().catch(() => {});
    throw e;
  }
  await sampler?.stop();
  return run;
}

/** `runOnPrism` once the sampler (if any) runs: the worker pool, Prism, the job; everything stopped at the end. */
async function runWithSampler(
  pipeline: Pipeline,
  options: PrismRunOptions,
  testStreams: Awaited<ReturnType<typeof readTestStreams>>,
  sampler: StepTimeSampler | undefined,
): Promise<PrismRun> {
  const graph = pipeline.graph();
  const worker = options.worker ?? "loopback";
  // The workers count each PCollection where this translation makes it (`runner-made.ts`): they are told its choices.
  const choices = { testStreams: new Set(testStreams.keys()) };
  const pool = await startWorkerPool(graph, {
    choices,
    ...(sampler === undefined ? {} : { stepTimes: () => sampler.read() }),
  });
  let prism: Prism | undefined;
  let client: JobClient | undefined;
  try {
    if (options.jobEndpoint === undefined) prism = await startPrism();
    client = new JobClient(options.jobEndpoint ?? (prism as Prism).jobEndpoint);
    const environment =
      worker === "loopback"
        ? {
            urn: URNS.environments.EXTERNAL as string,
            payload: toBinary(
              ExternalPayloadSchema,
              create(ExternalPayloadSchema, { endpoint: { url: `127.0.0.1:${pool.port}` } }),
            ),
          }
        : {
            urn: URNS.environments.PROCESS as string,
            payload: toBinary(ProcessPayloadSchema, create(ProcessPayloadSchema, { command: WORKER_COMMAND })),
          };
    const pipelineOptions: JsonObject =
      worker === "loopback"
        ? {}
        : {
            [PIPELINE_MODULE_OPTION]: {
              module: resolve(worker.process.module),
              export: worker.process.export,
              args: [...worker.process.args],
            },
            [TRANSLATION_OPTION]: translationSpec(choices),
            ...(options.processingTime === true ? { [PROCESSING_TIME_OPTION]: true } : {}),
          };
    const proto = translate(graph, environment, { stableInput: "omit", testStreams });
    // Metrics under the step names of their transforms: Prism's parts of a combine it lifted are the combine's.
    const nameOf = (id: string) => proto.components?.transforms[id]?.uniqueName;
    const stepOf = (id: string) => nameOf(id) ?? nameOf(liftedCombineOf(id) ?? "");
    const jobId = await client.run(proto, options.jobName ?? "tidemark", pipelineOptions);
    const jobs = client;
    const cancel = () => void jobs.cancel(jobId).catch(() => {});
    if (options.signal?.aborted === true) cancel();
    options.signal?.addEventListener("abort", cancel, { once: true });
    // A hook's error (the caller's, while the job runs) fails the run: the job is cancelled, the run rejects with it.
    let hookFailure: { readonly error: unknown } | undefined;
    const fail = (error: unknown) => {
      if (hookFailure !== undefined) return;
      hookFailure = { error };
      cancel();
    };
    const follow = options.follow;
    const monitor =
      follow === undefined
        ? undefined
        : new JobMonitor(client, jobId, {
            intervalMs: follow.intervalMs,
            onRead: (r: JobReading) =>
              follow.onRead({
                jobId,
                state: r.state,
                metrics: jobMetricsSnapshot(graph, r.infos, stepOf, { nowMs: Date.now(), finished: false }),
              }),
            onFailure: fail,
          });
    try {
      // Before any reading is handed on (the first comes after the Job API's answers).
      options.onSubmitted?.({ jobId, readings: () => monitor?.readings(), fail });
    } catch (e) {
      fail(e);
    }
    const result = await client.waitUntilFinish(jobId).finally(async () => {
      options.signal?.removeEventListener("abort", cancel);
      await monitor?.stop();
    });
    if (hookFailure !== undefined) throw hookFailure.error;
    if (result.state !== "DONE") {
      // The worker's own error first (it names the step), then what Prism said.
      const said = result.messages.filter((m) => m.startsWith("ERROR") || m.startsWith("WARNING"));
      // Prism v2.77.0's job messages do not say why a bundle failed; its log does (a worker that died, a panic).
      const logged = prism === undefined ? [] : prismFailures(prism.log()).slice(-1);
      const errors = [...pool.failures.slice(0, 1), ...said, ...logged];
      throw new PrismJobError(
        `the Prism job ${jobId} ended ${result.state}${errors.length === 0 ? "" : `: ${errors.join("; ")}`}`,
        result.state,
      );
    }
    // The metrics as Prism aggregated them from every worker's bundles (the same from a PROCESS worker).
    const infos = await client.metrics(jobId);
    return {
      result,
      metrics: jobMetricsSnapshot(graph, infos, stepOf, { nowMs: Date.now(), finished: true }),
      ...(options.processingTime === true ? { processingMs: processingMsecsOf(infos, stepOf) } : {}),
    };
  } finally {
    // Each stopped even when one before it fails (the first failure is the one thrown).
    client?.close();
    try {
      await pool.stop();
    } finally {
      await prism?.stop();
    }
  }
}

/**
 * The combine a transform id of Prism's is a part of, when Prism lifted the combine (v2.77.0, `handlecombine.go`: the
 * composite's id between "e" and "_lift", "_gbk", "_merge" or "_extract"); undefined for any other id.
 */
export function liftedCombineOf(transformId: string): string | undefined {
  return /^e(.+)_(?:lift|gbk|merge|extract)$/s.exec(transformId)?.[1];
}

/** Prism's log without its ANSI colours. */
export function plainLog(log: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: Prism colours its log with ANSI escapes.
  return log.replace(/\u001b\[[0-9;]*m/g, "");
}

/** The reasons Prism's log gives for failed bundles ("bundle inst3 stage-003 failed:SDK worker disconnected..."). */
export function prismFailures(log: string): string[] {
  return [
    ...new Set([...plainLog(log).matchAll(/bundle \S+ \S+ failed:([^\n]*)/g)].map((m) => (m[1] as string).trim())),
  ];
}

/** What `startOnPrism` tells its caller while the job runs (the runner registry's hooks). */
export interface PrismRunHooks {
  /**
   * Called with the running pipeline when Prism has accepted the job (`index` 0, event `job-submitted`: its id is
   * known, `jobState` STARTING) and after each reading of the job through the Job API (`follow`: at once, then every
   * second; event `job-reading`), `index` counting them: the direct runner's `onStep`, whose steps are its source
   * events. An error it throws (or a promise it returns that rejects) cancels the job and fails the run with it.
   */
  readonly onStep?: (running: RunningPipeline, step: { readonly index: number; readonly event: string }) => unknown;
}

/** How often `startOnPrism` reads the running job's state and metrics. */
export const PRISM_FOLLOW_INTERVAL_MS = 1_000;

/** A Prism run as a `RunningPipeline`, and how its readings through the Job API go. */
export interface PrismRunningPipeline extends RunningPipeline {
  jobState(): RunnerJobState;
  /** The readings of the job while it runs (undefined before it is submitted and once it has ended). */
  jobReadings(): JobReadings | undefined;
}

/**
 * `runOnPrism` as a `RunningPipeline` (for the runner registry): the job followed through the Job API while it runs,
 * so `metrics()` gives its latest reading (element counts per step, user metrics, processing time: see
 * `jobMetricsSnapshot` for what Prism does not report), `jobState()` its state (with its id from its submission on),
 * then the final ones, and `jobReadings()` how the readings go. No checkpoints, no commits of its own.
 */
export function startOnPrism(
  pipeline: Pipeline,
  options: PrismRunOptions = {},
  hooks: PrismRunHooks = {},
): PrismRunningPipeline {
  const empty = jobMetricsSnapshot(pipeline.graph(), [], () => undefined, { nowMs: Date.now(), finished: false });
  let submitted: SubmittedJob | undefined;
  let latest: PrismJobReading | undefined;
  let ended: { readonly metrics?: MetricsSnapshot; readonly state: RunnerJobState } | undefined;
  let index = 0;
  const running: PrismRunningPipeline = {
    metrics: () => ended?.metrics ?? latest?.metrics ?? empty,
    jobState: () =>
      ended?.state ??
      (latest === undefined
        ? { state: "STARTING", jobId: submitted?.jobId ?? "" }
        : { state: latest.state, jobId: latest.jobId }),
    jobReadings: () => (ended === undefined ? submitted?.readings() : undefined),
    checkpointMarks: () => [],
    snapshot: () => {
      throw new Error("a Prism run keeps its state in Prism: it has no Tidemark snapshot");
    },
    commitStats: () => ({ checkpoints: 0, resumedFrom: undefined, finalized: 0 }) as never,
    waitUntilFinish: async () => {
      const r = await run;
      return r.metrics;
    },
  };
  const onStep = hooks.onStep;
  /** The caller's hook; its error (thrown, or a rejected promise) fails the run (`SubmittedJob.fail`). */
  const step = (job: SubmittedJob, event: string) => {
    const r = onStep?.(running, { index: index++, event });
    if (r instanceof Promise) r.catch((e: unknown) => job.fail(e));
  };
  const run = runOnPrism(pipeline, {
    ...options,
    onSubmitted: (job) => {
      submitted = job;
      options.onSubmitted?.(job);
      step(job, "job-submitted");
    },
    follow: {
      intervalMs: options.follow?.intervalMs ?? PRISM_FOLLOW_INTERVAL_MS,
      onRead: (reading) => {
        latest = reading;
        options.follow?.onRead(reading);
        if (submitted !== undefined) step(submitted, "job-reading");
      },
    },
  });
  run.then(
    (r) => {
      ended = { metrics: r.metrics, state: { state: r.result.state, jobId: r.result.jobId } };
    },
    (e: unknown) => {
      const state = e instanceof PrismJobError ? e.state : "FAILED";
      const jobId = latest?.jobId ?? submitted?.jobId ?? "";
      ended = { state: { state, jobId, failure: e instanceof Error ? e.message : String(e) } };
    },
  );
  return running;
}
