import type { PipelineGraph } from "../../../core/pipeline.ts";
import type { StepTimes } from "../../observe/step-time.ts";
import type { TranslationChoices } from "../runner-made.ts";
import { serveUnary } from "../grpc.ts";
import { BeamFnExternalWorkerPool } from "../proto/generated/org/apache/beam/model/fn_execution/v1/beam_fn_api_pb.ts";
import { FnHarness } from "./harness.ts";

/** A running worker pool: its port, the workers it started, and how to stop it. */
export interface WorkerPool {
  readonly port: number;
  readonly workers: ReadonlyMap<string, FnHarness>;
  /** The errors of the instructions the pool's workers failed, in order. */
  readonly failures: readonly string[];
  stop(): Promise<void>;
}

/**
 * Beam's external worker pool (`BeamFnExternalWorkerPool`, for EXTERNAL and LOOPBACK environments) in this process:
 * when the runner asks for a worker (its id and control endpoint), a Fn API harness for `graph` starts here, so the
 * DoFns run in the process that built the pipeline (the pipeline module's own objects, its sinks' connections too).
 * `StopWorker` closes it. With `stepTimes` (a processing-time sampler's reading), the workers report each step's
 * processing time; with `choices`, they know what the launcher's translation left to the runner (where each
 * PCollection is made, and so counted).
 */
export async function startWorkerPool(
  graph: PipelineGraph,
  options: { readonly stepTimes?: () => StepTimes; readonly choices?: TranslationChoices } = {},
): Promise<WorkerPool> {
  const workers = new Map<string, FnHarness>();
  const failures: string[] = [];
  const server = await serveUnary(BeamFnExternalWorkerPool, {
    startWorker: (req) => {
      const controlUrl = req.controlEndpoint?.url;
      if (controlUrl === undefined || controlUrl === "") throw new Error("StartWorker without a control endpoint");
      const harness = new FnHarness({
        workerId: req.workerId,
        controlUrl,
        ...(req.loggingEndpoint?.url === undefined ? {} : { loggingUrl: req.loggingEndpoint.url }),
        graph,
        onFailure: (message) => failures.push(message),
        ...(options.stepTimes === undefined ? {} : { stepTimes: options.stepTimes }),
        ...(options.choices === undefined ? {} : { choices: options.choices }),
      });
      workers.set(req.workerId, harness);
      void harness.done.then(() => workers.delete(req.workerId));
      return {};
    },
    stopWorker: (req) => {
      workers.get(req.workerId)?.close();
      workers.delete(req.workerId);
      return {};
    },
  });
  return {
    port: server.port,
    workers,
    failures,
    async stop() {
      for (const w of workers.values()) w.close();
      workers.clear();
      await server.stop();
    },
  };
}
