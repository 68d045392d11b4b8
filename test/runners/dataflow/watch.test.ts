import { protos } from "@google-cloud/dataflow";
import { describe, expect, it } from "vitest";
import { JobWatch, stateName } from "../../../runners/dataflow/watch.ts";

const { Job, JobMessage } = protos.google.dataflow.v1beta3;

/** A job as the API's own message, through its binary encoding (numbers for enums, as the gRPC client gives them). */
const job = (state: string) =>
  Job.decode(
    Job.encode(Job.fromObject({ id: "2026-12-07_01_02_03-9", name: "user-sessions", currentState: state })).finish(),
  );
const message = (id: string, atSeconds: number, importance: string, text: string) =>
  JobMessage.decode(
    JobMessage.encode(
      JobMessage.fromObject({ id, time: { seconds: atSeconds }, messageImportance: importance, messageText: text }),
    ).finish(),
  );

describe("following a Dataflow job (JobWatch over the API's messages)", () => {
  it("after a submission: each state once, each message once and in time order, done when the job runs", () => {
    const w = new JobWatch("running");
    const first = w.observe({
      job: job("JOB_STATE_QUEUED"),
      messages: [
        message("m2", 1_796_000_010, "JOB_MESSAGE_BASIC", "Starting 1 workers"),
        message("m1", 1_796_000_000, "JOB_MESSAGE_BASIC", "Job submitted"),
      ],
    });
    expect(first).toEqual({
      lines: [
        "2026-11-30T00:53:20.000Z BASIC: Job submitted",
        "2026-11-30T00:53:30.000Z BASIC: Starting 1 workers",
        "job 2026-12-07_01_02_03-9 is QUEUED",
      ],
      done: false,
    });
    // The same message listed again (the list starts at the last one's time) is not printed twice.
    const second = w.observe({
      job: job("JOB_STATE_QUEUED"),
      messages: [message("m2", 1_796_000_010, "JOB_MESSAGE_BASIC", "Starting 1 workers")],
    });
    expect(second).toEqual({ lines: [], done: false });
    const third = w.observe({
      job: job("JOB_STATE_RUNNING"),
      messages: [message("m3", 1_796_000_020, "JOB_MESSAGE_WARNING", "Autoscaling: raised to 2 workers")],
    });
    expect(third.lines).toEqual([
      "2026-11-30T00:53:40.000Z WARNING: Autoscaling: raised to 2 workers",
      "job 2026-12-07_01_02_03-9 is RUNNING",
    ]);
    expect(third.done).toBe(true);
  });

  it("with --wait it follows the job past RUNNING to its end; a failed job is named as failed, drained or cancelled ones are not", () => {
    const w = new JobWatch("terminal");
    expect(w.observe({ job: job("JOB_STATE_RUNNING"), messages: [] }).done).toBe(false);
    expect(w.observe({ job: job("JOB_STATE_DRAINING"), messages: [] })).toEqual({
      lines: ["job 2026-12-07_01_02_03-9 is DRAINING"],
      done: false,
    });
    expect(w.observe({ job: job("JOB_STATE_DRAINED"), messages: [] })).toEqual({
      lines: ["job 2026-12-07_01_02_03-9 is DRAINED"],
      done: true,
    });
    const failing = new JobWatch("running");
    const failed = failing.observe({
      job: job("JOB_STATE_FAILED"),
      messages: [message("e1", 1_796_000_000, "JOB_MESSAGE_ERROR", "Workflow failed.")],
    });
    expect(failed).toEqual({
      lines: ["2026-11-30T00:53:20.000Z ERROR: Workflow failed.", "job 2026-12-07_01_02_03-9 is FAILED"],
      done: true,
      failed: "Dataflow job 2026-12-07_01_02_03-9 ended JOB_STATE_FAILED",
    });
    for (const end of ["JOB_STATE_CANCELLED", "JOB_STATE_UPDATED", "JOB_STATE_DONE"]) {
      const step = new JobWatch("terminal").observe({ job: job(end), messages: [] });
      expect(step.done).toBe(true);
      expect(step.failed).toBeUndefined();
    }
  });

  it("reads states given as numbers (gRPC) or names (the REST fallback)", () => {
    expect(stateName(protos.google.dataflow.v1beta3.JobState.JOB_STATE_RUNNING)).toBe("JOB_STATE_RUNNING");
    expect(stateName("JOB_STATE_PENDING" as never)).toBe("JOB_STATE_PENDING");
    expect(stateName(undefined)).toBe("JOB_STATE_UNKNOWN");
  });
});
