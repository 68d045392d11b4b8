/**
 * The Tidemark worker's boot entry, following Beam's SDK container contract (what Beam's `boot` programs do): started
 * by a runner's PROCESS environment (`bin/tidemark-worker`) or a container with
 *   --id=ID --provision_endpoint=HOST:PORT [--control_endpoint=...] [--logging_endpoint=...] [--artifact_endpoint=...]
 *   [--semi_persist_dir=DIR]
 * (Prism v2.77.0 passes the id quoted, `--id='job-001[...]'`: the quotes are removed). It asks the provision service
 * (with the `worker_id` metadata) for the job's pipeline options, control and logging endpoints and sibling worker
 * ids; imports the pipeline module the options name (`tidemark_pipeline`: `{ module, export, args }`, a file whose
 * export builds the same Pipeline as the launcher did, so the DoFns are found by step name); starts one more process
 * per sibling worker id (Beam's sibling_workers protocol); and runs the Fn API harness until the runner closes it.
 * The option `tidemark_translation` says what the launcher's translation left to the runner (where each PCollection
 * is made, so where its elements are counted). With the option `tidemark_processing_time: true` it samples per-step processing time while the harness runs, and
 * its bundles report it (Beam's `process_bundle_msecs`).
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Pipeline } from "../../../core/pipeline.ts";
import { ServiceClient } from "../grpc.ts";
import { ProvisionService } from "../proto/generated/org/apache/beam/model/fn_execution/v1/beam_provision_api_pb.ts";
import { startStepTimeSampler } from "../../observe/step-time.ts";
import {
  PIPELINE_MODULE_OPTION,
  type PipelineModuleSpec,
  PROCESSING_TIME_OPTION,
  parseBootFlags,
  TRANSLATION_OPTION,
  translationChoicesOf,
} from "./boot-spec.ts";
import { dialable, FnHarness } from "./harness.ts";

async function main(argv: readonly string[]): Promise<void> {
  const flags = parseBootFlags(argv);
  const id = flags.get("id");
  const provisionEndpoint = flags.get("provision_endpoint");
  if (id === undefined || provisionEndpoint === undefined) {
    throw new Error("usage: tidemark-worker --id=ID --provision_endpoint=HOST:PORT [--control_endpoint=HOST:PORT]");
  }
  const provision = new ServiceClient(ProvisionService, dialable(provisionEndpoint), { worker_id: id });
  const { info } = await provision.unary("getProvisionInfo", {});
  provision.close();
  // At the top (Prism: the Job API's options as given) or under "options" (Dataflow: the job's sdkPipelineOptions).
  const options = (info?.pipelineOptions ?? {}) as Record<string, unknown>;
  const nested = (options.options ?? {}) as Record<string, unknown>;
  const spec = (options[PIPELINE_MODULE_OPTION] ?? nested[PIPELINE_MODULE_OPTION]) as PipelineModuleSpec | undefined;
  if (spec === undefined || typeof spec.module !== "string") {
    throw new Error(`the job's pipeline options name no ${PIPELINE_MODULE_OPTION} module to build the pipeline from`);
  }
  const mod = (await import(pathToFileURL(resolve(spec.module)).href)) as Record<string, unknown>;
  const build = mod[spec.export];
  if (typeof build !== "function") throw new Error(`${spec.module} exports no function ${spec.export}`);
  const pipeline = (await (build as (args: readonly string[]) => Pipeline | Promise<Pipeline>)(
    spec.args ?? [],
  )) as Pipeline;
  // Sibling workers: one process each, with the same flags and their own id (they do not start siblings again).
  if (flags.get("sibling") !== "true") {
    for (const sibling of info?.siblingWorkerIds ?? []) {
      const args = [...argv.filter((a) => !a.startsWith("--id=")), `--id=${sibling}`, "--sibling=true"];
      spawn(process.execPath, [...process.execArgv, process.argv[1] as string, ...args], { stdio: "inherit" });
    }
  }
  const controlUrl = info?.controlEndpoint?.url || flags.get("control_endpoint");
  if (controlUrl === undefined || controlUrl === "") throw new Error("no control endpoint (provision info or flag)");
  const loggingUrl = info?.loggingEndpoint?.url || flags.get("logging_endpoint");
  const choices = translationChoicesOf(options[TRANSLATION_OPTION] ?? nested[TRANSLATION_OPTION]);
  const sampled = (options[PROCESSING_TIME_OPTION] ?? nested[PROCESSING_TIME_OPTION]) === true;
  const sampler = sampled ? await startStepTimeSampler() : undefined;
  try {
    const harness = new FnHarness({
      workerId: id,
      controlUrl,
      ...(loggingUrl === undefined || loggingUrl === "" ? {} : { loggingUrl }),
      graph: pipeline.graph(),
      choices,
      ...(sampler === undefined ? {} : { stepTimes: () => sampler.read() }),
    });
    await harness.done;
  } finally {
    await sampler?.stop();
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`tidemark-worker: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
