import { protos } from "@google-cloud/dataflow";
import { closeClients, consoleLink, type DataflowClients, dataflowClients, requireGoogleAccess } from "./google.ts";
import { checkJobPlace } from "./options.ts";
import { followJob } from "./watch.ts";

type IUpdateJobRequest = protos.google.dataflow.v1beta3.IUpdateJobRequest;
type IJob = protos.google.dataflow.v1beta3.IJob;
const JobState = protos.google.dataflow.v1beta3.JobState;

/** Where a job is: its project, region and id. */
export interface JobRef {
  readonly project: string;
  readonly region: string;
  readonly jobId: string;
}

/**
 * Drains a streaming job (it stops reading, finishes what is in flight, fires its windows' final panes): an
 * `UpdateJob` asking for `JOB_STATE_DRAINING`, as Beam Python's `modify_job_state` does.
 */
export function drainRequest(job: JobRef): IUpdateJobRequest {
  return stateRequest(job, JobState.JOB_STATE_DRAINING);
}

/** Cancels a job at once (in-flight data is dropped): an `UpdateJob` asking for `JOB_STATE_CANCELLED`. */
export function cancelRequest(job: JobRef): IUpdateJobRequest {
  return stateRequest(job, JobState.JOB_STATE_CANCELLED);
}

function stateRequest(job: JobRef, requestedState: protos.google.dataflow.v1beta3.JobState): IUpdateJobRequest {
  return { projectId: job.project, location: job.region, jobId: job.jobId, job: { requestedState } };
}

/**
 * Replaces a running streaming job with a new version (Dataflow's in-place update): the new job's request carries the
 * running job's id as `replaceJobId`, the same name, and the renamed transforms (old name to new) so their state
 * carries over.
 */
export function updateJob(
  newJob: IJob,
  running: { readonly id: string; readonly name: string },
  mapping: Readonly<Record<string, string>>,
): IJob {
  if (newJob.name !== running.name) {
    throw new Error(
      `--update replaces the job of the same name: the running job is ${running.name}, this one ${newJob.name}`,
    );
  }
  return { ...newJob, replaceJobId: running.id, transformNameMapping: { ...mapping } };
}

/** `--transform-name-mapping='{"Old":"New"}'` as a map, refused with the reason when it is not one. */
export function parseNameMapping(raw: string | undefined): Record<string, string> {
  if (raw === undefined || raw === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw new Error(`--transform-name-mapping must be a JSON object of old to new names: ${(e as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error("--transform-name-mapping must be a JSON object of old to new names");
  }
  for (const [k, v] of Object.entries(parsed)) {
    if (typeof v !== "string") throw new Error(`--transform-name-mapping: the new name of ${k} is not a string`);
  }
  return parsed as Record<string, string>;
}

/**
 * The active job named `name` in the project and region (`ListJobs`, filter ACTIVE, matched by name as Beam
 * Python's `get_job_id_from_name` does): Dataflow keeps one active job per name. Refused, naming the place, when
 * there is none.
 */
export async function findActiveJob(
  jobs: Pick<DataflowClients["jobs"], "listJobsAsync">,
  place: { readonly project: string; readonly region: string },
  name: string,
): Promise<IJob & { id: string; name: string }> {
  const request = {
    projectId: place.project,
    location: place.region,
    filter: protos.google.dataflow.v1beta3.ListJobsRequest.Filter.ACTIVE,
  };
  for await (const job of jobs.listJobsAsync(request)) {
    if (job.name === name && typeof job.id === "string") return job as IJob & { id: string; name: string };
  }
  throw new Error(`no active Dataflow job named ${name} in project ${place.project}, region ${place.region}`);
}

/**
 * `--drain` / `--cancel`: checks project and region, then credentials and network, finds the active job of the
 * name, asks for its new state, and follows it (until it has ended with `--wait`, else until Dataflow has taken the
 * request). Returns the job as last seen.
 */
export async function changeJobState(
  action: "drain" | "cancel",
  o: {
    readonly project?: string | undefined;
    readonly region?: string | undefined;
    readonly jobName: string;
    readonly wait?: boolean;
  },
  clients: DataflowClients = dataflowClients(),
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<IJob> {
  const place = checkJobPlace(o);
  try {
    await requireGoogleAccess(clients.jobs.auth, `--${action}`);
    const running = await findActiveJob(clients.jobs, place, o.jobName);
    const ref = { ...place, jobId: running.id };
    const requestedAt = Date.now();
    await clients.jobs.updateJob(action === "drain" ? drainRequest(ref) : cancelRequest(ref));
    log(
      `${action === "drain" ? "draining" : "cancelling"} Dataflow job ${running.id} (${o.jobName}): ${consoleLink(place.project, place.region, running.id)}`,
    );
    if (o.wait !== true) return running;
    return (await followJob(clients, ref, "terminal", { log, sinceMs: requestedAt })) ?? running;
  } finally {
    await closeClients(clients);
  }
}
