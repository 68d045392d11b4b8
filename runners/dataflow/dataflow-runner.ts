import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { protos } from "@google-cloud/dataflow";
import { Storage } from "@google-cloud/storage";
import type { Pipeline } from "../../core/pipeline.ts";
import type { RunningPipeline } from "../direct/direct-runner.ts";
import type { MetricsSnapshot } from "../direct/metrics.ts";
import { encodeForContainer } from "../portable/docker.ts";
import type { PipelineModuleSpec } from "../portable/worker/boot-spec.ts";
import { closeClients, consoleLink, type DataflowClients, dataflowClients, requireGoogleAccess } from "./google.ts";
import { buildJob, pipelineHash } from "./job.ts";
import { findActiveJob, parseNameMapping, updateJob } from "./lifecycle.ts";
import { followJob } from "./watch.ts";
import { type CheckedDataflowOptions, checkDataflowOptions } from "./options.ts";
import { stageBytes } from "./stage.ts";

/** What `--runner=dataflow` reads of the options (Dataflow's, and the runner's job name and streaming mode). */
export interface DataflowRunOptions {
  readonly jobName: string;
  readonly streaming: boolean;
  readonly project?: string | undefined;
  readonly region?: string | undefined;
  readonly tempLocation?: string | undefined;
  readonly stagingLocation?: string | undefined;
  readonly sdkContainerImage?: string | undefined;
  readonly serviceAccount?: string | undefined;
  readonly network?: string | undefined;
  readonly subnetwork?: string | undefined;
  readonly maxWorkers?: number | undefined;
  readonly machineType?: string | undefined;
  readonly labels?: string | undefined;
  readonly dryRun?: string | undefined;
  readonly wait?: boolean | undefined;
  readonly update?: boolean | undefined;
  readonly transformNameMapping?: string | undefined;
  /** The module that builds the pipeline in the workers (Dataflow runs them in containers: see `boot.ts`). */
  readonly pipelineModule?: PipelineModuleSpec | undefined;
}

/** What a submission produced: the request, where the pipeline went, and the job once created. */
export interface DataflowSubmission {
  readonly job: protos.google.dataflow.v1beta3.IJob;
  readonly pipelineUrl: string;
  readonly pipelineBytes: Uint8Array;
  readonly created?: protos.google.dataflow.v1beta3.IJob;
}

const SDK_VERSION = "0.1.0";

/**
 * What a submission checks before anything is opened, staged or created (the command line runs it before it opens
 * the warehouse): Dataflow's options, the name mapping, and, unless it is a dry run, credentials and Google's answer.
 */
export async function checkDataflowSubmission(
  o: DataflowRunOptions,
  storage?: Storage,
): Promise<CheckedDataflowOptions> {
  const checked = checkDataflowOptions(o);
  parseNameMapping(o.transformNameMapping);
  if (o.transformNameMapping !== undefined && o.update !== true) {
    throw new Error("--transform-name-mapping applies to --update (renamed steps of the job it replaces)");
  }
  if (o.dryRun === undefined) {
    await requireGoogleAccess((storage ?? new Storage({ projectId: checked.project })).authClient, "--runner=dataflow");
  }
  return checked;
}

/** The job request and the encoded pipeline for `pipeline` (no I/O). */
export function prepareDataflowJob(
  pipeline: Pipeline,
  o: DataflowRunOptions,
  checked: CheckedDataflowOptions,
  id: string,
) {
  const encoded = encodeForContainer(pipeline.graph(), checked.sdkContainerImage);
  const pipelineUrl = `${checked.stagingLocation}/${id}/pipeline.pb`;
  const job = buildJob({
    project: checked.project,
    region: checked.region,
    jobName: o.jobName,
    tempLocation: checked.tempLocation,
    pipelineUrl,
    pipelineProtoHash: pipelineHash(encoded.bytes),
    images: [
      { environmentId: encoded.environmentId, image: checked.sdkContainerImage, capabilities: encoded.capabilities },
    ],
    streaming: o.streaming,
    labels: checked.labels,
    sdkVersion: SDK_VERSION,
    ...(o.pipelineModule === undefined ? {} : { pipelineModule: o.pipelineModule }),
    ...(o.serviceAccount === undefined ? {} : { serviceAccount: o.serviceAccount }),
    ...(o.network === undefined ? {} : { network: o.network }),
    ...(o.subnetwork === undefined ? {} : { subnetwork: o.subnetwork }),
    ...(o.maxWorkers === undefined ? {} : { maxWorkers: o.maxWorkers }),
    ...(o.machineType === undefined ? {} : { machineType: o.machineType }),
  });
  return { job, pipelineUrl, pipelineBytes: encoded.bytes };
}

/**
 * `--runner=dataflow`: checks the options (before anything is staged), translates the job for Runner v2 with the
 * worker image as its Docker environment, and either writes the request and the pipeline to `--dry-run DIR`, or
 * checks Application Default Credentials and that Google Cloud answers, stages `pipeline.pb` to the staging location,
 * creates the job (with `--update`, as the replacement of the running job of the same name), prints its console
 * link, and follows its state and messages until it runs (`--wait`: until it ends; a failed job rejects).
 */
export async function submitToDataflow(
  pipeline: Pipeline,
  o: DataflowRunOptions,
  clients: {
    readonly storage?: Storage;
    readonly dataflow?: DataflowClients;
    readonly log?: (line: string) => void;
    /** Stops following the job (it goes on in Dataflow). */
    readonly signal?: AbortSignal;
  } = {},
): Promise<DataflowSubmission> {
  const storage = clients.storage ?? new Storage({ projectId: o.project });
  // Options and the name mapping; unless a dry run, credentials and Google's answer (before anything is staged).
  const checked = await checkDataflowSubmission(o, storage);
  const mapping = parseNameMapping(o.transformNameMapping);
  const id = `${o.jobName}-${new Date().toISOString().replace(/[-:.TZ]/g, "")}`;
  const prepared = prepareDataflowJob(pipeline, o, checked, id);
  const log = clients.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (o.dryRun !== undefined) {
    mkdirSync(o.dryRun, { recursive: true });
    const message = protos.google.dataflow.v1beta3.Job.fromObject(prepared.job);
    writeFileSync(join(o.dryRun, "job.json"), `${JSON.stringify(message.toJSON(), null, 2)}\n`);
    writeFileSync(join(o.dryRun, "pipeline.pb"), prepared.pipelineBytes);
    log(`dry run: the job request is ${join(o.dryRun, "job.json")}, the pipeline ${join(o.dryRun, "pipeline.pb")}`);
    return prepared;
  }
  const dataflow = clients.dataflow ?? dataflowClients();
  try {
    let job = prepared.job;
    if (o.update === true) {
      const running = await findActiveJob(dataflow.jobs, checked, o.jobName);
      job = updateJob(job, running, mapping);
      log(`updating Dataflow job ${running.id} (${o.jobName}) in place`);
    }
    await stageBytes(storage, prepared.pipelineUrl, prepared.pipelineBytes);
    log(`staged ${prepared.pipelineUrl}`);
    const [created] = await dataflow.jobs.createJob({ projectId: checked.project, location: checked.region, job });
    const link = consoleLink(checked.project, checked.region, created.id);
    log(`created Dataflow job ${created.id}: ${link}`);
    const last = await followJob(
      dataflow,
      { project: checked.project, region: checked.region, jobId: created.id as string },
      o.wait === true ? "terminal" : "running",
      { log, ...(clients.signal === undefined ? {} : { signal: clients.signal }) },
    );
    return { ...prepared, job, created: last ?? created };
  } finally {
    if (clients.dataflow === undefined) await closeClients(dataflow);
  }
}

/** `submitToDataflow` as a `RunningPipeline`: it finishes when the job is submitted (it then runs in Dataflow). */
export function startOnDataflow(pipeline: Pipeline, o: DataflowRunOptions): RunningPipeline {
  const done = submitToDataflow(pipeline, o);
  done.catch(() => {});
  const metrics: MetricsSnapshot = { steps: [], user: [], processingTime: Date.now(), sourceEvents: 0 };
  return {
    metrics: () => metrics,
    checkpointMarks: () => [],
    snapshot: () => {
      throw new Error("a Dataflow job keeps its state in Dataflow: it has no Tidemark snapshot");
    },
    commitStats: () => ({ checkpoints: 0, resumedFrom: undefined, finalized: 0 }) as never,
    waitUntilFinish: async () => {
      await done;
      return metrics;
    },
  };
}
