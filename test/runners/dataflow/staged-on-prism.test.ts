import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Storage } from "@google-cloud/storage";
import { describe, expect, it } from "vitest";
import { tableRows } from "../../pipelines/user-sessions/table-rows.ts";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import { fixtureFileSource } from "../../../io/test-stream/jsonl.ts";
import { runMedallion } from "../../../pipelines/user-sessions/run.ts";
import { build, medallionModule } from "../../../pipelines/user-sessions/worker.ts";
import { submitToDataflow } from "../../../runners/dataflow/dataflow-runner.ts";
import { parseGcs, stageBytes } from "../../../runners/dataflow/stage.ts";
import { JobClient } from "../../../runners/portable/job-client.ts";
import {
  ParDoPayloadSchema,
  PipelineSchema,
  ProcessPayloadSchema,
} from "../../../runners/portable/proto/generated/org/apache/beam/model/pipeline/v1/beam_runner_api_pb.ts";
import { URNS } from "../../../runners/portable/urns.ts";
import type { RawMessage } from "../../../schemas/event.ts";
import { usePrism } from "../portable/prism-fixture.ts";
import { useFakeGcs } from "./fake-gcs-fixture.ts";

const FIXTURE = "test/fixtures/events-small.jsonl";

describe("the pipeline staged for Dataflow, read back from GCS, runs on Prism with the worker's boot entry", () => {
  const prism = usePrism();
  const gcs = useFakeGcs();

  it("the staged pipeline.pb (Docker environment swapped for PROCESS) writes the direct runner's Bronze", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tidemark-staged-"));
    try {
      const args = [
        `--input=${FIXTURE}`,
        `--warehouse=duckdb:${join(dir, "worker.duckdb")}`,
        "--gold-trigger=watermark",
        // Silver's de-duplication sweeps on a processing-time timer a horizon away; read as a bounded input (no
        // TestStream on Dataflow), Prism waits for it in real time before the job can end: a short horizon here.
        "--dedup-hours=0.0005",
        "--runner=dataflow",
      ];
      // The launcher: the job's pipeline, for Dataflow, staged to GCS (the fake server) instead of submitted.
      const storage = new Storage({ apiEndpoint: gcs().endpoint, projectId: "test" });
      await storage.createBucket("bucket");
      const launcherPipeline = await build([
        ...args.slice(0, 1),
        `--warehouse=duckdb:${join(dir, "unused.duckdb")}`,
        ...args.slice(2),
      ]);
      const prepared = await submitToDataflow(
        launcherPipeline,
        {
          project: "test",
          region: "europe-west1",
          tempLocation: "gs://bucket/tmp",
          jobName: "user-sessions",
          streaming: true,
          dryRun: join(dir, "dry"),
          pipelineModule: medallionModule(args),
        },
        { log: () => {} },
      );
      await stageBytes(storage, prepared.pipelineUrl, prepared.pipelineBytes);
      // Read back what was staged, and run it on Prism: the worker as Prism's PROCESS environment, with the module
      // and arguments the Dataflow job names; Prism refuses the stable-input requirement, so it goes.
      const { bucket, name } = parseGcs(prepared.pipelineUrl);
      const [staged] = await storage.bucket(bucket).file(name).download();
      const pipeline = fromBinary(PipelineSchema, staged);
      const env = pipeline.components?.environments.tidemark;
      expect(env?.urn).toBe(URNS.environments.DOCKER);
      if (env !== undefined) {
        env.urn = URNS.environments.PROCESS as string;
        env.payload = toBinary(
          ProcessPayloadSchema,
          create(ProcessPayloadSchema, { command: join(process.cwd(), "bin/tidemark-worker") }),
        );
      }
      pipeline.requirements = pipeline.requirements.filter((r) => r !== URNS.requirements.REQUIRES_STABLE_INPUT);
      for (const t of Object.values(pipeline.components?.transforms ?? {})) {
        const spec = t.spec;
        if (spec === undefined || spec.urn !== URNS.primitives.PAR_DO) continue;
        const pardo = fromBinary(ParDoPayloadSchema, spec.payload);
        if (!pardo.requiresStableInput) continue;
        pardo.requiresStableInput = false;
        spec.payload = toBinary(ParDoPayloadSchema, pardo);
      }
      const client = new JobClient(prism().jobEndpoint);
      try {
        const jobId = await client.run(pipeline, "staged", {
          tidemark_pipeline: { ...medallionModule(args), args: [...args] },
        });
        expect((await client.waitUntilFinish(jobId)).state).toBe("DONE");
      } finally {
        client.close();
      }
      // The direct runner over the same fixture. The worker read it as a bounded input (Dataflow has no TestStream),
      // so its processing time is its clock: Bronze compares without it. Silver's de-duplication depends on
      // processing time (the fixture's virtual clock against the worker's), and Gold on the watermark (the fixture's
      // moves against none until the input ends), so they are not compared here.
      const direct = await DuckDbWarehouse.create(":memory:");
      await direct.open();
      await runMedallion(fixtureFileSource<RawMessage>(FIXTURE), direct, { trigger: "watermark" });
      const worker = await DuckDbWarehouse.create(join(dir, "worker.duckdb"));
      await worker.open();
      try {
        for (const [table, without] of [["bronze_messages", ["ingest_time"]]] as const) {
          const a = await tableRows(worker, table, without);
          expect(a.length, table).toBeGreaterThan(1000);
          expect(a, table).toEqual(await tableRows(direct, table, without));
        }
      } finally {
        await worker.close();
        await direct.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
