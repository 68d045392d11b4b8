import { protos } from "@google-cloud/dataflow";
import { describe, expect, it } from "vitest";
import { cancelRequest, drainRequest, parseNameMapping, updateJob } from "../../../runners/dataflow/lifecycle.ts";

const { UpdateJobRequest, Job, JobState } = protos.google.dataflow.v1beta3;
const REF = { project: "my-proj", region: "europe-west1", jobId: "2026-12-07_01_02_03-123" };

/** A request through the API's binary encoding and back, as plain data. */
const wire = (r: protos.google.dataflow.v1beta3.IUpdateJobRequest) =>
  UpdateJobRequest.toObject(UpdateJobRequest.decode(UpdateJobRequest.encode(UpdateJobRequest.fromObject(r)).finish()), {
    enums: String,
  });

describe("Dataflow job lifecycle requests (the API's own messages)", () => {
  it("drain asks for JOB_STATE_DRAINING and cancel for JOB_STATE_CANCELLED, on the job named by project, region and id", () => {
    expect(wire(drainRequest(REF))).toEqual({
      projectId: "my-proj",
      location: "europe-west1",
      jobId: REF.jobId,
      job: { requestedState: "JOB_STATE_DRAINING" },
    });
    expect(wire(cancelRequest(REF)).job).toEqual({ requestedState: "JOB_STATE_CANCELLED" });
    expect(JobState[JobState.JOB_STATE_DRAINING]).toBe("JOB_STATE_DRAINING");
  });

  it("an update replaces the running job of the same name, carrying the renamed transforms", () => {
    const updated = updateJob(
      { name: "user-sessions", projectId: "my-proj" },
      { id: REF.jobId, name: "user-sessions" },
      parseNameMapping('{"GoldSessions/Aggregate":"GoldSessions/Combine"}'),
    );
    const back = Job.toObject(Job.decode(Job.encode(Job.fromObject(updated)).finish()));
    expect(back.replaceJobId).toBe(REF.jobId);
    expect(back.transformNameMapping).toEqual({ "GoldSessions/Aggregate": "GoldSessions/Combine" });
    expect(() => updateJob({ name: "other" }, { id: "x", name: "user-sessions" }, {})).toThrow(
      "--update replaces the job of the same name",
    );
    expect(() => parseNameMapping("[1]")).toThrow("must be a JSON object");
    expect(() => parseNameMapping("{not json")).toThrow("must be a JSON object of old to new names:");
    expect(() => parseNameMapping('{"a":1}')).toThrow("the new name of a is not a string");
  });
});
