import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { protos } from "@google-cloud/dataflow";
import { describe, expect, it } from "vitest";
import { Pipeline } from "../../../core/pipeline.ts";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import { fixtureFileSource } from "../../../io/test-stream/jsonl.ts";
import { medallion } from "../../../pipelines/user-sessions/pipeline.ts";
import { submitToDataflow } from "../../../runners/dataflow/dataflow-runner.ts";
import type { RawMessage } from "../../../schemas/event.ts";

/** A google.protobuf.Value / Struct in the protobufjs object form as the plain JSON the REST API carries. */
function plain(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(plain);
  if (v === null || typeof v !== "object") return v;
  const o = v as Record<string, unknown>;
  if ("fields" in o && Object.keys(o).length === 1) {
    return Object.fromEntries(Object.entries(o.fields as Record<string, unknown>).map(([k, x]) => [k, plain(x)]));
  }
  for (const k of ["stringValue", "numberValue", "boolValue"]) if (k in o) return o[k];
  if ("listValue" in o) return ((o.listValue as { values?: unknown[] }).values ?? []).map(plain);
  if ("structValue" in o) return plain(o.structValue);
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, plain(x)]));
}

/** Every leaf of a JSON value by its path (`environment.workerPools.0.kind`), empty objects and lists left out. */
function leaves(v: unknown, path = "", out = new Map<string, unknown>()): Map<string, unknown> {
  if (v !== null && typeof v === "object") {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) leaves(x, path === "" ? k : `${path}.${k}`, out);
  } else if (v !== undefined && v !== "" && v !== 0 && v !== false) {
    out.set(path, v);
  }
  return out;
}

/**
 * Where Tidemark's request differs from Beam Go's on the same pipeline and options, and why. Paths are of the REST
 * JSON; `*` stands for any list index.
 */
const EXPLAINED: Record<string, string> = {
  // Tidemark names the job's region and an idempotency key; Go leaves both to the client call.
  location: "the region, also in the request URL: Tidemark sets it on the message too",
  clientRequestId:
    "Tidemark sends an idempotency key (job name + pipeline hash), so a retried create makes no second job",
  // Tidemark's SDK, not Go's.
  "environment.userAgent.name": "the SDK's name (Tidemark, not Apache Beam SDK for Go)",
  "environment.userAgent.version": "the SDK's version",
  // Go's own display data and Go options, which Tidemark does not have.
  "environment.sdkPipelineOptions.display_data": "Go lists its flags as display data; Tidemark sends none",
  "environment.sdkPipelineOptions.beam:option:go_options:v1.options.experiments": "Go's own flag copy",
  // The worker: Go stages its worker binary as a package and names no container; Tidemark's worker is the image.
  "environment.workerPools.*.packages.*": "Go's staged worker binary; Tidemark's worker is the container image",
};

const star = (path: string) => path.replace(/\.\d+(?=\.|$)/g, ".*");

describe("Tidemark's Dataflow job request against Beam Go's (dataflowlib.Translate v2.77.0, scripts/beam-dataflow-job)", () => {
  it("on the same staged pipeline and options, they differ only where explained", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tidemark-go-ref-"));
    const warehouse = await DuckDbWarehouse.create(":memory:");
    try {
      const p = Pipeline.create();
      medallion(p, fixtureFileSource<RawMessage>("test/fixtures/events-small.jsonl"), warehouse);
      const options = {
        project: "my-proj",
        region: "europe-west1",
        tempLocation: "gs://my-bucket/tmp",
        jobName: "user-sessions",
        streaming: true,
        maxWorkers: 5,
        labels: "team=data",
        dryRun: dir,
      };
      const ours = await submitToDataflow(p, options, { log: () => {} });
      const tool = execFileSync("bash", ["scripts/beam-dataflow-job.sh"], { encoding: "utf8" }).trim();
      const env = ours.job.environment as protos.google.dataflow.v1beta3.IEnvironment;
      const go = JSON.parse(
        execFileSync(
          tool,
          [
            `-pipeline=${join(dir, "pipeline.pb")}`,
            "-name=user-sessions",
            "-project=my-proj",
            "-region=europe-west1",
            "-temp_location=gs://my-bucket/tmp",
            `-pipeline_url=${ours.pipelineUrl}`,
            `-experiments=${(env.experiments ?? []).join(",")}`,
            "-labels=team=data",
            "-max_workers=5",
          ],
          { encoding: "utf8" },
        ),
      ) as unknown;
      const mine = plain(
        protos.google.dataflow.v1beta3.Job.toObject(protos.google.dataflow.v1beta3.Job.fromObject(ours.job), {
          enums: String,
        }),
      );
      const a = leaves(mine);
      const b = leaves(go);
      const differing = new Set<string>();
      for (const k of new Set([...a.keys(), ...b.keys()])) {
        if (JSON.stringify(a.get(k)) !== JSON.stringify(b.get(k))) differing.add(star(k));
      }
      // Every difference is explained (by its path or a path above it), and every explanation is still needed.
      const covers = (e: string, k: string) => k === e || k.startsWith(`${e}.`);
      expect([...differing].filter((k) => !Object.keys(EXPLAINED).some((e) => covers(e, k)))).toEqual([]);
      expect(Object.keys(EXPLAINED).filter((e) => ![...differing].some((k) => covers(e, k)))).toEqual([]);
      // What must agree does: the pipeline, its hash, the experiments, the worker image and pool, the job's identity.
      for (const k of [
        "name",
        "projectId",
        "environment.sdkPipelineOptions.options.pipelineUrl",
        "environment.sdkPipelineOptions.options.pipelineProtoHash",
        "environment.workerPools.0.kind",
        "environment.workerPools.0.sdkHarnessContainerImages.0.containerImage",
        "environment.workerPools.0.autoscalingSettings.maxNumWorkers",
        "environment.tempStoragePrefix",
        "labels.team",
      ]) {
        expect(a.get(k), k).toBeDefined();
        expect(a.get(k), k).toEqual(b.get(k));
      }
    } finally {
      await warehouse.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
