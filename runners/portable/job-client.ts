import type { JsonObject } from "@bufbuild/protobuf";
import { ServiceClient } from "./grpc.ts";
import { ArtifactStagingService } from "./proto/generated/org/apache/beam/model/job_management/v1/beam_artifact_api_pb.ts";
import {
  JobService,
  JobState_Enum,
} from "./proto/generated/org/apache/beam/model/job_management/v1/beam_job_api_pb.ts";
import type { Pipeline } from "./proto/generated/org/apache/beam/model/pipeline/v1/beam_runner_api_pb.ts";
import type { MonitoringInfo } from "./proto/generated/org/apache/beam/model/pipeline/v1/metrics_pb.ts";

/** A job's final state and what the runner said about it. */
export interface JobResult {
  readonly jobId: string;
  /** `DONE`, `FAILED`, `CANCELLED`, ... (Beam's JobState names). */
  readonly state: string;
  /** The job's messages (warnings and errors the runner reported), in order. */
  readonly messages: readonly string[];
}

const TERMINAL = new Set([JobState_Enum.DONE, JobState_Enum.FAILED, JobState_Enum.CANCELLED, JobState_Enum.DRAINED]);

/**
 * A client of Beam's Job API (Prism, the Flink and Spark job servers): prepare, stage artifacts, run, follow the
 * state and message streams to the end, cancel. Tidemark's workers run from the project itself, so a job stages no
 * files; the runner's artifact retrieval is still answered as the protocol says (each artifact resolved to itself; a
 * request for an artifact's bytes gets an empty, last chunk).
 */
export class JobClient {
  private readonly jobs: ServiceClient<(typeof JobService)["method"]>;

  constructor(readonly endpoint: string) {
    this.jobs = new ServiceClient(JobService, endpoint);
  }

  /**
   * Prepares and runs `pipeline` (with the job's pipeline options, which the runner hands its workers through the
   * provision service); resolves with the job id once the runner has accepted it.
   */
  async run(pipeline: Pipeline, jobName: string, pipelineOptions: JsonObject = {}): Promise<string> {
    const prepared = await this.jobs.unary("prepare", { jobName, pipeline, pipelineOptions });
    const staging = prepared.artifactStagingEndpoint?.url;
    if (staging !== undefined && staging !== "") await offerArtifacts(staging, prepared.stagingSessionToken);
    const { jobId } = await this.jobs.unary("run", { preparationId: prepared.preparationId, retrievalToken: "" });
    return jobId;
  }

  /** Follows the job's state stream to a terminal state, collecting its messages. */
  async waitUntilFinish(jobId: string): Promise<JobResult> {
    const messages: string[] = [];
    const messageStream = this.jobs.serverStream("getMessageStream", { jobId });
    const collecting = (async () => {
      try {
        for await (const m of messageStream) {
          if (m.response.case === "messageResponse") {
            messages.push(`${JobMessageImportance(m.response.value.importance)}: ${m.response.value.messageText}`);
          }
        }
      } catch {
        // The stream ends with the job (or is cancelled below).
      }
    })();
    const stateStream = this.jobs.serverStream("getStateStream", { jobId });
    const streamed = (async () => {
      let state = JobState_Enum.UNSPECIFIED;
      for await (const event of stateStream) {
        state = event.state;
        if (TERMINAL.has(state)) break;
      }
      return state;
    })();
    // The state is also asked for every half second: a stream that misses the terminal state (seen once with a job
    // cancelled while it waited for its worker) must not leave the caller waiting forever.
    let finished = false;
    const polled = (async () => {
      while (!finished) {
        await new Promise((r) => setTimeout(r, 500));
        const s = await this.jobs.unary("getState", { jobId }, 5_000).catch(() => undefined);
        if (s !== undefined && TERMINAL.has(s.state)) return s.state;
      }
      return undefined;
    })();
    const state = await Promise.race([streamed, polled.then((s) => s ?? streamed)]);
    finished = true;
    stateStream.cancel();
    messageStream.cancel();
    await collecting;
    return { jobId, state: JobState_Enum[state] ?? String(state), messages };
  }

  /**
   * The job's metrics as the runner aggregated them (`GetJobMetrics`): the committed monitoring infos, what finished
   * bundles reported (Prism keeps only the latest progress reports in the attempted ones, and Tidemark's workers put
   * no metrics in progress reports). Also while the job runs: measured on Prism v2.77.0, each bundle's metrics are
   * committed as it finishes (`runners/portable/job-monitor.ts`). `signal` cancels the call.
   */
  async metrics(jobId: string, timeoutMs?: number, signal?: AbortSignal): Promise<MonitoringInfo[]> {
    const r = await this.jobs.unary("getJobMetrics", { jobId }, timeoutMs, signal);
    return r.metrics?.committed ?? [];
  }

  /** The job's state now (`GetState`: Beam's JobState name, `RUNNING`, `DONE`, ...); `signal` cancels the call. */
  async state(jobId: string, timeoutMs?: number, signal?: AbortSignal): Promise<string> {
    const s = await this.jobs.unary("getState", { jobId }, timeoutMs, signal);
    return JobState_Enum[s.state] ?? String(s.state);
  }

  async cancel(jobId: string): Promise<string> {
    const r = await this.jobs.unary("cancel", { jobId });
    return JobState_Enum[r.state] ?? String(r.state);
  }

  close(): void {
    this.jobs.close();
  }
}

function JobMessageImportance(n: number): string {
  return ["UNSPECIFIED", "DEBUG", "DETAILED", "BASIC", "WARNING", "ERROR"][n] ?? String(n);
}

/** Answers the runner's reverse artifact retrieval for a job that stages no files (Beam's `offer_artifacts`). */
async function offerArtifacts(endpoint: string, stagingToken: string): Promise<void> {
  const staging = new ServiceClient(ArtifactStagingService, endpoint.replace(/^localhost:/, "127.0.0.1:"));
  try {
    const call = staging.bidiStream("reverseArtifactRetrievalService");
    call.send({ stagingToken });
    for await (const request of call) {
      const r = request.request;
      if (r.case === "resolveArtifact") {
        call.send({ response: { case: "resolveArtifactResponse", value: { replacements: r.value.artifacts } } });
      } else if (r.case === "getArtifact") {
        call.send({ response: { case: "getArtifactResponse", value: { data: new Uint8Array() } }, isLast: true });
      }
    }
    call.end();
  } finally {
    staging.close();
  }
}
