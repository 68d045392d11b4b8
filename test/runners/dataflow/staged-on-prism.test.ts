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
  type Pipeline as PipelineProto,
  PipelineSchema,
  ProcessPayloadSchema,
} from "../../../runners/portable/proto/generated/org/apache/beam/model/pipeline/v1/beam_runner_api_pb.ts";
import { URNS } from "../../../runners/portable/urns.ts";
import type { RawMessage } from "../../../schemas/event.ts";
import { usePrism } from "../portable/prism-fixture.ts";
import { useFakeGcs } from "./fake-gcs-fixture.ts";
import { DATASET, useBigQueryEmulator } from "../../io/bigquery/emulator-fixture.ts";

const FIXTURE = "test/fixtures/events-small.jsonl";

/**
 * The launcher's part, as on Dataflow: the job's pipeline built from `args`, translated for Dataflow and staged to
 * GCS (the fake server), then read back and readied for Prism: its Docker environment swapped for the worker's boot
 * entry as a PROCESS environment, with the stable-input requirement (which Prism refuses) taken out.
 */
async function stageAndReadBack(
  gcsEndpoint: string,
  args: readonly string[],
  launcherWarehouse: string,
  dir: string,
): Promise<PipelineProto> {
  const storage = new Storage({ apiEndpoint: gcsEndpoint, projectId: "test" });
  const [exists] = await storage.bucket("bucket").exists();
  if (!exists) await storage.createBucket("bucket");
  const launcherPipeline = await build(
    args.map((a) => (a.startsWith("--warehouse=duckdb:") ? `--warehouse=duckdb:${launcherWarehouse}` : a)),
  );
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
  return pipeline;
}

describe("the pipeline staged for Dataflow, read back from GCS, runs on Prism with the worker's boot entry", () => {
  const prism = usePrism();
  const gcs = useFakeGcs();
  const bq = useBigQueryEmulator();

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
      const pipeline = await stageAndReadBack(gcs().endpoint, args, join(dir, "unused.duckdb"), dir);
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

  it("writing BigQuery (the emulator) as on Dataflow, with Silver's usual 24-hour de-duplication, it gives the direct runner's Bronze, Silver and Gold", async () => {
    const e = bq.emulator();
    const dir = mkdtempSync(join(tmpdir(), "tidemark-staged-bq-"));
    const args = [
      `--input=${FIXTURE}`,
      `--warehouse=bigquery://${e.projectId}/${DATASET}`,
      `--bigquery-endpoint=${e.apiEndpoint}`,
      `--bigquery-storage-endpoint=${e.grpcEndpoint}`,
      // The emulator runs DML but does not apply change data capture: the one-writer scheme (Prism runs one worker).
      "--bigquery-upserts=transaction",
      "--gold-trigger=watermark",
      "--runner=dataflow",
    ];
    // The direct runner over the same fixture (its TestStream): the reference.
    const direct = await DuckDbWarehouse.create(":memory:");
    await direct.open();
    await runMedallion(fixtureFileSource<RawMessage>(FIXTURE), direct, { trigger: "watermark" });
    // Columns the two runs set differently by design: processing time (the worker's clock against the fixture's
    // virtual one), Silver's `is_late` (a Fn API worker sees no watermark), and Gold's pane metadata (the fixture's
    // watermark makes some panes late; a bounded read holds the watermark until its end: every pane on time).
    const without: Record<string, readonly string[]> = {
      bronze_messages: ["ingest_time"],
      silver_events: ["ingest_time", "lateness_ms", "is_late"],
      gold_sessions: ["updated_at", "pane_index", "pane_timing"],
      gold_tenant_hourly: ["updated_at", "pane_timing"],
    };
    const want: Record<string, string[]> = {};
    for (const [table, cols] of Object.entries(without)) want[table] = await tableRows(direct, table, cols);
    await direct.close();
    const warehouse = await bq.warehouse();
    const client = new JobClient(prism().jobEndpoint);
    try {
      const pipeline = await stageAndReadBack(gcs().endpoint, args, "", dir);
      const jobId = await client.run(pipeline, "staged-bigquery", {
        tidemark_pipeline: { ...medallionModule(args), args: [...args] },
      });
      // The job reads its input to the end, fires every window, writes, and then only waits for Silver's 24-hour
      // processing-time sweep: the test waits until the tables are written (a condition, polled), then cancels it.
      let got: Record<string, string[]> = {};
      const deadline = Date.now() + 150_000;
      for (;;) {
        got = {};
        for (const [table, cols] of Object.entries(without)) got[table] = await tableRows(warehouse, table, cols);
        if (JSON.stringify(got) === JSON.stringify(want) || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      await client.cancel(jobId);
      for (const table of Object.keys(without)) {
        expect(got[table]?.length, table).toBeGreaterThan(50);
        expect(got[table], table).toEqual(want[table]);
      }
    } finally {
      client.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
