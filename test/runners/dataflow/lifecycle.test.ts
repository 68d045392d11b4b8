import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { protos } from "@google-cloud/dataflow";
import { describe, expect, it } from "vitest";
import { checkRunnerInputs, parseJobOptions } from "../../../pipelines/user-sessions/job-options.ts";
import {
  cancelRequest,
  changeJobState,
  drainRequest,
  parseNameMapping,
  updateJob,
} from "../../../runners/dataflow/lifecycle.ts";

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

/** Runs `body` with GOOGLE_APPLICATION_CREDENTIALS set to `path`, restoring it after. */
async function withCredentials<T>(path: string, body: () => Promise<T>): Promise<T> {
  const saved = process.env.GOOGLE_APPLICATION_CREDENTIALS;
  process.env.GOOGLE_APPLICATION_CREDENTIALS = path;
  try {
    return await body();
  } finally {
    if (saved === undefined) delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
    else process.env.GOOGLE_APPLICATION_CREDENTIALS = saved;
  }
}

/**
 * A well-formed service account key Google does not know: credentials exist, and the token request fails (here,
 * with no network, at the name lookup; elsewhere Google refuses the key).
 */
function unknownKey(dir: string): string {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const path = join(dir, "key.json");
  writeFileSync(
    path,
    JSON.stringify({
      type: "service_account",
      project_id: "my-proj",
      private_key_id: "k1",
      private_key: privateKey.export({ type: "pkcs8", format: "pem" }),
      client_email: "tidemark@my-proj.iam.gserviceaccount.com",
      client_id: "1",
    }),
  );
  return path;
}

describe("--drain, --cancel, --update and --wait on the command line", () => {
  it("are Dataflow's, drain and cancel act alone, and a submitted job reads Pub/Sub and writes BigQuery", () => {
    const parse = (...args: string[]) => parseJobOptions(args, {}).options;
    expect(() => checkRunnerInputs(parse("--drain"))).toThrow("--drain applies to --runner=dataflow");
    expect(() => checkRunnerInputs(parse("--runner=dataflow", "--drain", "--cancel"))).toThrow(
      "--drain acts on the running job alone: it cannot come with --cancel",
    );
    expect(() => checkRunnerInputs(parse("--runner=dataflow"))).toThrow(
      "--runner=dataflow reads Pub/Sub (--input=pubsub://projects/P/subscriptions/S): the fixture test/fixtures/events-small.jsonl would be read from each worker's disk",
    );
    expect(() => checkRunnerInputs(parse("--runner=dataflow", "--input=pubsub://projects/p/subscriptions/s"))).toThrow(
      "--runner=dataflow writes BigQuery (--warehouse=bigquery://PROJECT/DATASET)",
    );
    expect(() => checkRunnerInputs(parse("--runner=dataflow", "--cancel", "--dry-run=/tmp/x"))).toThrow(
      "--cancel acts on the running job alone: it cannot come with --dry-run",
    );
    expect(() => checkRunnerInputs(parse("--runner=dataflow", "--drain", "--update"))).toThrow(
      "--drain acts on the running job alone: it cannot come with --update",
    );
    expect(() => checkRunnerInputs(parse("--runner=dataflow", "--dry-run=/tmp/x", "--wait"))).toThrow(
      "--wait needs a submission: --dry-run submits nothing",
    );
    expect(() => checkRunnerInputs(parse("--transform-name-mapping={}"))).toThrow(
      "--transform-name-mapping applies to --update",
    );
    expect(() => checkRunnerInputs(parse("--runner=dataflow", "--max-messages=5", "--dry-run=/tmp/x"))).toThrow(
      "--max-messages bounds a local run: a Dataflow job runs until it is drained (--drain)",
    );
    // A dry run writes the job whatever its input; drain and cancel read neither.
    expect(() => checkRunnerInputs(parse("--runner=dataflow", "--dry-run=/tmp/x"))).not.toThrow();
    expect(() => checkRunnerInputs(parse("--runner=dataflow", "--cancel"))).not.toThrow();
    expect(() =>
      checkRunnerInputs(
        parse("--runner=dataflow", "--input=pubsub://projects/p/subscriptions/s", "--warehouse=bigquery://p/d"),
      ),
    ).not.toThrow();
  });

  it("drain and cancel need a project and a region, then credentials, then Google Cloud's answer: each missing one named at once", async () => {
    await expect(changeJobState("drain", { jobName: "user-sessions" })).rejects.toThrow(
      "--runner=dataflow: --project is required (the Google Cloud project); --region is required",
    );
    const place = { project: "my-proj", region: "europe-west1", jobName: "user-sessions" };
    await withCredentials(join(tmpdir(), "no-such-key.json"), async () => {
      await expect(changeJobState("cancel", place)).rejects.toThrow(
        /^--cancel needs Google Cloud credentials \(Application Default Credentials\)/,
      );
    });
    const dir = mkdtempSync(join(tmpdir(), "tidemark-key-"));
    try {
      const key = unknownKey(dir);
      const started = Date.now();
      await withCredentials(key, async () => {
        await expect(changeJobState("drain", place)).rejects.toThrow(
          /^--drain cannot reach Google Cloud: the credentials gave no access token \(no network, or the credentials are not valid\); it said: /,
        );
      });
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
