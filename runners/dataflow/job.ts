import { createHash } from "node:crypto";
import type { protos } from "@google-cloud/dataflow";

type IJob = protos.google.dataflow.v1beta3.IJob;
type IStruct = protos.google.protobuf.IStruct;
type IValue = protos.google.protobuf.IValue;

/** The Dataflow experiments a streaming Runner v2 job with portable submission needs (as Beam's Go SDK sets them). */
export const RUNNER_V2_STREAMING_EXPERIMENTS = [
  "beam_fn_api",
  "use_runner_v2",
  "use_unified_worker",
  "use_portable_job_submission",
  "enable_streaming_engine",
  "enable_windmill_service",
] as const;

/** What the job request needs beyond the pipeline: Dataflow's options (validated, see `options.ts`). */
export interface DataflowJobSettings {
  readonly project: string;
  readonly region: string;
  readonly jobName: string;
  readonly tempLocation: string;
  /** Where the pipeline proto was staged, and its SHA-256 (hex). */
  readonly pipelineUrl: string;
  readonly pipelineProtoHash: string;
  /** The worker image per environment id of the pipeline (its Docker environments), and whether it is multi-core. */
  readonly images: readonly {
    readonly environmentId: string;
    readonly image: string;
    readonly capabilities: readonly string[];
  }[];
  readonly streaming: boolean;
  readonly serviceAccount?: string;
  readonly network?: string;
  readonly subnetwork?: string;
  readonly maxWorkers?: number;
  readonly machineType?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly experiments?: readonly string[];
  /** For an update: the running job's id and the renamed transforms (old name to new). */
  readonly replaceJobId?: string;
  readonly transformNameMapping?: Readonly<Record<string, string>>;
  /** Idempotency of the create call; default derived from the job name and the pipeline hash. */
  readonly clientRequestId?: string;
  readonly sdkVersion: string;
  /** The module the workers build the pipeline from (`tidemark_pipeline`, read by `bin/tidemark-worker`). */
  readonly pipelineModule?: { readonly module: string; readonly export: string; readonly args: readonly string[] };
}

/** Beam's capability URN for a worker that runs several bundles at once in one process. */
const MULTI_CORE = "beam:protocol:multi_core_bundle_processing:v1";

/** A plain JSON value as a google.protobuf.Struct (what the Dataflow API takes for its free-form fields). */
export function toStruct(o: Readonly<Record<string, unknown>>): IStruct {
  const fields: Record<string, IValue> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) fields[k] = toValue(v);
  return { fields };
}

function toValue(v: unknown): IValue {
  if (v === null) return { nullValue: "NULL_VALUE" as never };
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "number") return { numberValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  return { structValue: toStruct(v as Record<string, unknown>) };
}

/** The job's experiments: the user's, plus those Runner v2 (streaming) needs, each once. */
export function experimentsFor(streaming: boolean, user: readonly string[] = []): string[] {
  const needed = streaming ? RUNNER_V2_STREAMING_EXPERIMENTS : RUNNER_V2_STREAMING_EXPERIMENTS.slice(0, 4);
  const out = [...user];
  for (const e of needed) if (!out.includes(e)) out.push(e);
  return out;
}

/**
 * The Dataflow job request for a staged portable pipeline (the Dataflow API's own `Job` message), field for field as
 * Beam's Go SDK builds it (`dataflowlib.Translate`, v2.77.0): a Runner v2 job with empty `steps` (the pipeline is
 * the staged proto, named in the options with its hash), one `harness` worker pool running the SDK container images
 * of the pipeline's environments (one core per container unless the worker declares multi-core), the experiments,
 * labels, region, service account and network settings. Differences from Go's: no `worker` package (Tidemark's
 * worker is the container image itself, not a staged binary), and `sdkPipelineOptions` carries Tidemark's SDK name.
 */
export function buildJob(s: DataflowJobSettings): IJob {
  const experiments = experimentsFor(s.streaming, s.experiments);
  const jobType = s.streaming ? "JOB_TYPE_STREAMING" : "JOB_TYPE_BATCH";
  const apiJobType = s.streaming ? "FNAPI_STREAMING" : "FNAPI_BATCH";
  return {
    projectId: s.project,
    name: s.jobName,
    type: jobType as never,
    location: s.region,
    clientRequestId: s.clientRequestId ?? `${s.jobName}-${s.pipelineProtoHash.slice(0, 16)}`.slice(0, 64),
    environment: {
      serviceAccountEmail: s.serviceAccount ?? "",
      userAgent: toStruct({ name: "Tidemark", version: s.sdkVersion }),
      version: toStruct({ job_type: apiJobType, major: "6" }),
      sdkPipelineOptions: toStruct({
        display_data: [],
        // The names Dataflow reads (as Beam Go writes them).
        options: {
          experiments,
          pipelineUrl: s.pipelineUrl,
          pipelineProtoHash: s.pipelineProtoHash,
          region: s.region,
          tempLocation: s.tempLocation,
          ...(s.pipelineModule === undefined
            ? {}
            : { tidemark_pipeline: { ...s.pipelineModule, args: [...s.pipelineModule.args] } }),
        },
      }),
      workerPools: [
        {
          kind: "harness",
          numWorkers: 1,
          autoscalingSettings: s.maxWorkers === undefined ? {} : { maxNumWorkers: s.maxWorkers },
          ipConfiguration: "WORKER_IP_UNSPECIFIED" as never,
          sdkHarnessContainerImages: s.images.map((i) => ({
            containerImage: i.image,
            useSingleCorePerContainer: !i.capabilities.includes(MULTI_CORE),
            capabilities: [...i.capabilities],
            environmentId: i.environmentId,
          })),
          ...(s.machineType === undefined ? {} : { machineType: s.machineType }),
          ...(s.network === undefined ? {} : { network: s.network }),
          ...(s.subnetwork === undefined ? {} : { subnetwork: s.subnetwork }),
        },
      ],
      tempStoragePrefix: s.tempLocation,
      experiments,
    },
    labels: { ...(s.labels ?? {}) },
    steps: [],
    ...(s.replaceJobId === undefined ? {} : { replaceJobId: s.replaceJobId }),
    ...(s.transformNameMapping === undefined ? {} : { transformNameMapping: { ...s.transformNameMapping } }),
  };
}

/** The hex SHA-256 of the encoded pipeline (Dataflow checks the staged proto against it). */
export function pipelineHash(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
