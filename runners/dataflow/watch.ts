import { protos } from "@google-cloud/dataflow";
import { consoleLink } from "./google.ts";

type IJob = protos.google.dataflow.v1beta3.IJob;
type IJobMessage = protos.google.dataflow.v1beta3.IJobMessage;
const { JobState, JobMessageImportance } = protos.google.dataflow.v1beta3;

/** The states a job never leaves (Dataflow's terminal states). */
const TERMINAL: ReadonlySet<string> = new Set([
  "JOB_STATE_DONE",
  "JOB_STATE_FAILED",
  "JOB_STATE_CANCELLED",
  "JOB_STATE_UPDATED",
  "JOB_STATE_DRAINED",
]);

/** The terminal states that are not a failure of the job. */
const ENDED_WELL: ReadonlySet<string> = new Set([
  "JOB_STATE_DONE",
  "JOB_STATE_CANCELLED",
  "JOB_STATE_UPDATED",
  "JOB_STATE_DRAINED",
]);

/** What watching waits for: the job running (the default after a submission), or its end (`--wait`). */
export type WatchUntil = "running" | "terminal";

/** A state as its name (`JOB_STATE_RUNNING`), whether the client gave the enum's number or its name. */
export function stateName(state: IJob["currentState"]): string {
  if (state === null || state === undefined) return "JOB_STATE_UNKNOWN";
  return typeof state === "number" ? (JobState[state] ?? `JOB_STATE_${state}`) : String(state);
}

function importanceName(m: IJobMessage): string {
  const i = m.messageImportance;
  const name = typeof i === "number" ? JobMessageImportance[i] : String(i ?? "");
  return name.replace(/^JOB_MESSAGE_/, "") || "MESSAGE";
}

function seconds(t: IJobMessage["time"]): number {
  if (t === null || t === undefined) return 0;
  return Number(t.seconds ?? 0) + (t.nanos ?? 0) / 1e9;
}

/** One look at the job: its state and the messages listed since the last look (newest may come first). */
export interface JobObservation {
  readonly job: IJob;
  readonly messages: readonly IJobMessage[];
}

/** What one observation gives the terminal, and whether watching is over (and how it ended). */
export interface WatchStep {
  readonly lines: readonly string[];
  readonly done: boolean;
  /** Set when the job reached a terminal state that is a failure (`JOB_STATE_FAILED`). */
  readonly failed?: string;
}

/**
 * Follows a job as Beam's runners do after submitting it (Go's `dataflowlib.Execute` loop, Python's
 * `wait_until_finish`): each state change printed once, each job message printed once and in time order, and the
 * end named: the job running (when that is all a submission waits for), or a terminal state (`--wait`, drain and
 * cancel). Pure: the I/O is `watchJob`'s, so the rules are tested on the API's own messages.
 */
export class JobWatch {
  private lastState: string | undefined;
  private readonly seen = new Set<string>();

  constructor(private readonly until: WatchUntil) {}

  observe(o: JobObservation): WatchStep {
    const lines: string[] = [];
    const fresh = o.messages
      .filter((m) => {
        const id = m.id ?? `${seconds(m.time)}:${m.messageText ?? ""}`;
        if (this.seen.has(id)) return false;
        this.seen.add(id);
        return true;
      })
      .sort((a, b) => seconds(a.time) - seconds(b.time));
    for (const m of fresh) {
      const at = new Date(seconds(m.time) * 1000).toISOString();
      lines.push(`${at} ${importanceName(m)}: ${m.messageText ?? ""}`);
    }
    const state = stateName(o.job.currentState);
    if (state !== this.lastState) {
      this.lastState = state;
      lines.push(`job ${o.job.id ?? "?"} is ${state.replace(/^JOB_STATE_/, "")}`);
    }
    if (TERMINAL.has(state)) {
      return ENDED_WELL.has(state)
        ? { lines, done: true }
        : { lines, done: true, failed: `Dataflow job ${o.job.id ?? "?"} ended ${state}` };
    }
    return { lines, done: this.until === "running" && state === "JOB_STATE_RUNNING" };
  }
}

/** A followed job that ended failed (`JOB_STATE_FAILED`), with Dataflow's last error message. */
export class JobFailedError extends Error {}

/** Where a watched job is, and how to reach it. */
export interface WatchTarget {
  readonly project: string;
  readonly region: string;
  readonly jobId: string;
}

/**
 * Polls the job (`GetJob`) and its messages (`ListJobMessages`, importance BASIC and above, from the last one seen)
 * every `pollMs`, printing what `JobWatch` makes of them, until it is done. A failed job rejects with its state and
 * last error message; `signal` stops watching (the job goes on in Dataflow).
 */
export async function watchJob(
  clients: {
    readonly jobs: { getJob(r: protos.google.dataflow.v1beta3.IGetJobRequest): Promise<[IJob, ...unknown[]]> };
    readonly messages: {
      listJobMessages(
        r: protos.google.dataflow.v1beta3.IListJobMessagesRequest,
      ): Promise<[IJobMessage[], ...unknown[]]>;
    };
  },
  target: WatchTarget,
  until: WatchUntil,
  options: {
    readonly log: (line: string) => void;
    readonly pollMs?: number;
    readonly signal?: AbortSignal;
    /** Messages older than this (epoch ms) are history: not printed (a drain follows from its request on). */
    readonly sinceMs?: number;
  },
): Promise<IJob> {
  const watch = new JobWatch(until);
  const ref = { projectId: target.project, location: target.region, jobId: target.jobId };
  let since: IJobMessage["time"] =
    options.sinceMs === undefined
      ? undefined
      : { seconds: Math.floor(options.sinceMs / 1000), nanos: (options.sinceMs % 1000) * 1e6 };
  let lastError: string | undefined;
  for (;;) {
    const [job] = await clients.jobs.getJob(ref);
    const [messages] = await clients.messages.listJobMessages({
      ...ref,
      minimumImportance: JobMessageImportance.JOB_MESSAGE_BASIC,
      ...(since === undefined || since === null ? {} : { startTime: since }),
    });
    for (const m of messages) {
      if (since === undefined || since === null || seconds(m.time) > seconds(since)) since = m.time;
      if (importanceName(m) === "ERROR") lastError = m.messageText ?? undefined;
    }
    const step = watch.observe({ job, messages });
    for (const line of step.lines) options.log(line);
    if (step.failed !== undefined) {
      throw new JobFailedError(`${step.failed}${lastError === undefined ? "" : `: ${lastError}`}`);
    }
    if (step.done || options.signal?.aborted === true) return job;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        options.signal?.removeEventListener("abort", done);
        resolve();
      };
      const t = setTimeout(done, options.pollMs ?? 5000);
      options.signal?.addEventListener("abort", done, { once: true });
    });
  }
}

/**
 * Follows a job a command created or changed: a job that fails rejects (with Dataflow's error); a failure to follow
 * it (the API unreachable for a while) is only said, the job left as it is, running in Dataflow (`undefined`).
 */
export async function followJob(
  clients: Parameters<typeof watchJob>[0],
  target: WatchTarget,
  until: WatchUntil,
  options: Parameters<typeof watchJob>[3],
): Promise<IJob | undefined> {
  try {
    return await watchJob(clients, target, until, options);
  } catch (e) {
    if (e instanceof JobFailedError) throw e;
    options.log(
      `could not follow Dataflow job ${target.jobId} (it goes on in Dataflow: ${consoleLink(target.project, target.region, target.jobId)}): ${(e as Error).message}`,
    );
    return undefined;
  }
}
