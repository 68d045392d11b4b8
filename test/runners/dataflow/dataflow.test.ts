import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { protos } from "@google-cloud/dataflow";
import { Storage } from "@google-cloud/storage";
import { describe, expect, it } from "vitest";
import { useFakeGcs } from "./fake-gcs-fixture.ts";
import { Pipeline } from "../../../core/pipeline.ts";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import { fixtureFileSource } from "../../../io/test-stream/jsonl.ts";
import { medallion } from "../../../pipelines/user-sessions/pipeline.ts";
import { submitToDataflow } from "../../../runners/dataflow/dataflow-runner.ts";
import { RUNNER_V2_STREAMING_EXPERIMENTS } from "../../../runners/dataflow/job.ts";
import { checkDataflowOptions } from "../../../runners/dataflow/options.ts";
import { stageBytes } from "../../../runners/dataflow/stage.ts";
import {
  DockerPayloadSchema,
  PipelineSchema,
} from "../../../runners/portable/proto/generated/org/apache/beam/model/pipeline/v1/beam_runner_api_pb.ts";
import { URNS } from "../../../runners/portable/urns.ts";
import type { RawMessage } from "../../../schemas/event.ts";

const Job = protos.google.dataflow.v1beta3.Job;
const BASE = { project: "my-proj", region: "europe-west1", tempLocation: "gs://my-bucket/tmp" };

async function medallionPipeline(): Promise<{ p: Pipeline; close: () => Promise<void> }> {
  const warehouse = await DuckDbWarehouse.create(":memory:");
  const p = Pipeline.create();
  medallion(p, fixtureFileSource<RawMessage>("test/fixtures/events-small.jsonl"), warehouse);
  return { p, close: () => warehouse.close() };
}

describe("--runner=dataflow: options, the job request, staging", () => {
  it("refuses bad options before anything is staged, naming each", () => {
    expect(() => checkDataflowOptions({ tempLocation: "/tmp/x" })).toThrow(
      '--runner=dataflow: --project is required (the Google Cloud project); --region is required (e.g. --region=europe-west1); --temp-location must be a gs://BUCKET/PATH location, got "/tmp/x"',
    );
    expect(() => checkDataflowOptions({ ...BASE, labels: "Team=Data" })).toThrow("is not a Dataflow label");
    const ok = checkDataflowOptions({ ...BASE, labels: "team=data,env=prod" });
    expect(ok.stagingLocation).toBe("gs://my-bucket/tmp/staging");
    expect(ok.sdkContainerImage).toBe("europe-west1-docker.pkg.dev/my-proj/tidemark/worker:latest");
    expect(ok.labels).toEqual({ team: "data", env: "prod" });
  });

  it("--dry-run writes the Dataflow API's Job message (no field lost through its encoding) and the staged pipeline", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tidemark-dry-"));
    const { p, close } = await medallionPipeline();
    try {
      const r = await submitToDataflow(
        p,
        { ...BASE, jobName: "user-sessions", streaming: true, dryRun: dir, maxWorkers: 4, labels: "team=data" },
        { log: () => {} },
      );
      // The request survives the API's binary encoding and its JSON form.
      const fromJson = Job.fromObject(JSON.parse(readFileSync(join(dir, "job.json"), "utf8")));
      const wire = Job.decode(Job.encode(fromJson).finish());
      expect(Job.toObject(wire, { defaults: false })).toEqual(Job.toObject(Job.fromObject(r.job), { defaults: false }));
      expect(wire.type).toBe(protos.google.dataflow.v1beta3.JobType.JOB_TYPE_STREAMING);
      expect(wire.steps).toEqual([]);
      expect(wire.labels).toEqual({ team: "data" });
      const env = wire.environment as protos.google.dataflow.v1beta3.Environment;
      expect(env.experiments).toEqual([...RUNNER_V2_STREAMING_EXPERIMENTS]);
      const pool = env.workerPools[0] as protos.google.dataflow.v1beta3.WorkerPool;
      expect(pool.kind).toBe("harness");
      expect(pool.autoscalingSettings?.maxNumWorkers).toBe(4);
      expect(pool.sdkHarnessContainerImages[0]?.containerImage).toBe(
        "europe-west1-docker.pkg.dev/my-proj/tidemark/worker:latest",
      );
      expect(pool.sdkHarnessContainerImages[0]?.useSingleCorePerContainer).toBe(true);
      // The pipeline: its hash in the options, its Docker environment naming the image, stable input required.
      const bytes = readFileSync(join(dir, "pipeline.pb"));
      const options = env.sdkPipelineOptions?.fields?.options?.structValue?.fields ?? {};
      expect(options.pipelineProtoHash?.stringValue).toBe(createHash("sha256").update(bytes).digest("hex"));
      expect(options.pipelineUrl?.stringValue).toMatch(
        /^gs:\/\/my-bucket\/tmp\/staging\/user-sessions-\d+\/pipeline\.pb$/,
      );
      const pipeline = fromBinary(PipelineSchema, bytes);
      const docker = pipeline.components?.environments.tidemark;
      expect(docker?.urn).toBe(URNS.environments.DOCKER);
      expect(fromBinary(DockerPayloadSchema, docker?.payload ?? new Uint8Array()).containerImage).toBe(
        "europe-west1-docker.pkg.dev/my-proj/tidemark/worker:latest",
      );
      expect(pipeline.requirements).toContain(URNS.requirements.REQUIRES_STABLE_INPUT);
    } finally {
      await close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("without credentials, the submission stops at once and says what is missing", async () => {
    const { p, close } = await medallionPipeline();
    const saved = process.env.GOOGLE_APPLICATION_CREDENTIALS;
    process.env.GOOGLE_APPLICATION_CREDENTIALS = join(tmpdir(), "no-such-key.json");
    try {
      await expect(
        submitToDataflow(p, { ...BASE, jobName: "user-sessions", streaming: true }, { log: () => {} }),
      ).rejects.toThrow(/needs Google Cloud credentials \(Application Default Credentials\)/);
    } finally {
      if (saved === undefined) delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
      else process.env.GOOGLE_APPLICATION_CREDENTIALS = saved;
      await close();
    }
  });
});

describe("staging through @google-cloud/storage against fake-gcs-server (built from its Go module)", () => {
  const gcs = useFakeGcs();

  it("stages the pipeline once: the object's name, size and MD5 are the file's; a second staging writes nothing", async () => {
    const storage = new Storage({ apiEndpoint: gcs().endpoint, projectId: "test" });
    await storage.createBucket("staging-bucket");
    const bytes = new Uint8Array(Array.from({ length: 70_000 }, (_, i) => (i * 31) % 251));
    const url = "gs://staging-bucket/staging/job-1/pipeline.pb";
    expect(await stageBytes(storage, url, bytes)).toBe(url);
    const file = storage.bucket("staging-bucket").file("staging/job-1/pipeline.pb");
    const [meta] = await file.getMetadata();
    expect(Number(meta.size)).toBe(bytes.length);
    expect(meta.md5Hash).toBe(createHash("md5").update(bytes).digest("base64"));
    const [content] = await file.download();
    expect(Buffer.compare(content, Buffer.from(bytes))).toBe(0);
    await stageBytes(storage, url, bytes);
    const [again] = await file.getMetadata();
    expect(again.generation).toBe(meta.generation);
  });
});
