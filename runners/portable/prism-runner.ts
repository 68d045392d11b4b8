import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { create, type JsonObject, toBinary } from "@bufbuild/protobuf";
import type { Pipeline } from "../../core/pipeline.ts";
import type { RunningPipeline } from "../direct/direct-runner.ts";
import type { MetricsSnapshot, StepMetrics } from "../direct/metrics.ts";
import { type StepTimeSampler, startStepTimeSampler } from "../observe/step-time.ts";
import { processingMsecsOf, userMetricsOf } from "./user-metrics.ts";
import { JobClient, type JobResult } from "./job-client.ts";
import { type Prism, startPrism } from "./prism.ts";
import {
  ExternalPayloadSchema,
  ProcessPayloadSchema,
} from "./proto/generated/org/apache/beam/model/pipeline/v1/beam_runner_api_pb.ts";
import { readTestStreams, translate } from "./translate.ts";
import { URNS } from "./urns.ts";
import { PIPELINE_MODULE_OPTION, type PipelineModuleSpec, PROCESSING_TIME_OPTION } from "./worker/boot-spec.ts";
import { startWorkerPool } from "./worker/pool.ts";

/** The worker a PROCESS environment starts: `bin/tidemark-worker` of this checkout. */
const WORKER_COMMAND = fileURLToPath(new URL("../../bin/tidemark-worker", import.meta.url));

export interface PrismRunOptions {
  readonly jobName?: string;
  /**
   * Where the SDK worker runs: in this process (default; Beam's LOOPBACK: an EXTERNAL environment served by this
   * process's worker pool), or in processes the runner starts (Beam's PROCESS environment: `bin/tidemark-worker`,
   * which builds the pipeline from the module named here, `runners/portable/worker/boot.ts`). A process worker's
   * per-step counts stay in its process: the run's metrics are then zero.
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
}

/** A finished Prism job: its result and Tidemark's per-step counts from the worker's monitoring infos. */
export interface PrismRun {
  readonly result: JobResult;
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
  const pool = await startWorkerPool(graph, sampler === undefined ? {} : { stepTimes: () => sampler.read() });
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
            ...(options.processingTime === true ? { [PROCESSING_TIME_OPTION]: true } : {}),
          };
    const proto = translate(graph, environment, { stableInput: "omit", testStreams });
    const jobId = await client.run(proto, options.jobName ?? "tidemark", pipelineOptions);
    const jobs = client;
    const cancel = () => void jobs.cancel(jobId).catch(() => {});
    if (options.signal?.aborted === true) cancel();
    options.signal?.addEventListener("abort", cancel, { once: true });
    const result = await client
      .waitUntilFinish(jobId)
      .finally(() => options.signal?.removeEventListener("abort", cancel));
    if (result.state !== "DONE") {
      // The worker's own error first (it names the step), then what Prism said.
      const said = result.messages.filter((m) => m.startsWith("ERROR") || m.startsWith("WARNING"));
      // Prism v2.77.0's job messages do not say why a bundle failed; its log does (a worker that died, a panic).
      const logged = prism === undefined ? [] : prismFailures(prism.log()).slice(-1);
      const errors = [...pool.failures.slice(0, 1), ...said, ...logged];
      throw new Error(
        `the Prism job ${jobId} ended ${result.state}${errors.length === 0 ? "" : `: ${errors.join("; ")}`}`,
      );
    }
    // User metrics as Prism aggregated them from every worker's bundles (the same from a PROCESS worker), under the
    // step names of their transforms: Prism's parts of a combine it lifted are the combine's.
    const nameOf = (id: string) => proto.components?.transforms[id]?.uniqueName;
    const stepOf = (id: string) => nameOf(id) ?? nameOf(liftedCombineOf(id) ?? "");
    const infos = await client.metrics(jobId);
    const user = userMetricsOf(infos, stepOf);
    return {
      result,
      metrics: { ...metricsOf(pipeline, pool.elementCounts), user },
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

/**
 * Per-step counts from the worker's element counts per PCollection (what a step read and what it output). Prism
 * reports no per-step drops, and watermarks are the runner's: after a finished job they are all +Infinity.
 */
function metricsOf(pipeline: Pipeline, counts: ReadonlyMap<string, number>): MetricsSnapshot {
  const sum = (pcs: readonly string[]) => pcs.reduce((n, pc) => n + (counts.get(pc) ?? 0), 0);
  const steps: StepMetrics[] = pipeline.graph().primitives.map((t) => ({
    step: t.fullName,
    kind: t.primitive?.kind ?? "composite",
    elementsIn: sum(t.inputs),
    elementsOut: sum(Object.values(t.outputs)),
    droppedLate: 0,
    droppedClosed: 0,
    inputWatermark: Number.POSITIVE_INFINITY,
    outputWatermark: Number.POSITIVE_INFINITY,
  }));
  return { steps, user: [], processingTime: Date.now(), sourceEvents: 0 };
}

/** `runOnPrism` as a `RunningPipeline` (for the runner registry): no checkpoints, no commits of its own. */
export function startOnPrism(pipeline: Pipeline, options: PrismRunOptions = {}): RunningPipeline {
  const run = runOnPrism(pipeline, options);
  run.catch(() => {});
  let last: MetricsSnapshot = metricsOf(pipeline, new Map());
  return {
    metrics: () => last,
    checkpointMarks: () => [],
    snapshot: () => {
      throw new Error("a Prism run keeps its state in Prism: it has no Tidemark snapshot");
    },
    commitStats: () => ({ checkpoints: 0, resumedFrom: undefined, finalized: 0 }) as never,
    waitUntilFinish: async () => {
      last = (await run).metrics;
      return last;
    },
  };
}
