import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { Pipeline } from "../../../core/pipeline.ts";
import { TestStream } from "../../../io/test-stream/test-stream.ts";
import { BeamFnExternalWorkerPool } from "../../../runners/portable/proto/generated/org/apache/beam/model/fn_execution/v1/beam_fn_api_pb.ts";
import { translate } from "../../../runners/portable/translate.ts";
import { map } from "../../../transforms/element-wise.ts";
import { read } from "../../../transforms/read.ts";
import { describe, expect, it } from "vitest";
import { ServiceClient, serveUnary } from "../../../runners/portable/grpc.ts";
import { JobClient } from "../../../runners/portable/job-client.ts";
import { usePrism } from "./prism-fixture.ts";
import { JobService } from "../../../runners/portable/proto/generated/org/apache/beam/model/job_management/v1/beam_job_api_pb.ts";
import {
  ExternalPayloadSchema,
  PipelineSchema,
} from "../../../runners/portable/proto/generated/org/apache/beam/model/pipeline/v1/beam_runner_api_pb.ts";
import { URNS } from "../../../runners/portable/urns.ts";

/** The smallest pipeline: an Impulse in the global window (nothing for an SDK worker to run). */
function impulseOnly(): MessageInitShape<typeof PipelineSchema> {
  return {
    rootTransformIds: ["impulse"],
    components: {
      transforms: {
        impulse: {
          uniqueName: "Impulse",
          spec: { urn: URNS.primitives.IMPULSE as string },
          outputs: { out: "pc" },
        },
      },
      pcollections: {
        pc: { uniqueName: "Impulse.out", coderId: "bytes", isBounded: 2, windowingStrategyId: "global" },
      },
      coders: {
        bytes: { spec: { urn: URNS.coders.BYTES as string } },
        window: { spec: { urn: URNS.coders.GLOBAL_WINDOW as string } },
      },
      windowingStrategies: {
        global: {
          windowFn: { urn: URNS.windowFns.global },
          mergeStatus: 1,
          windowCoderId: "window",
          trigger: { trigger: { case: "default", value: {} } },
          accumulationMode: 1,
          outputTime: 1,
          closingBehavior: 1,
          onTimeBehavior: 1,
          environmentId: "",
        },
      },
    },
  };
}

const prism = usePrism();

describe("the Job API client against Beam's Prism runner (v2.77.0, started on a free 127.0.0.1 port)", () => {
  it("lists no jobs on a fresh Prism, and prepares a job (a pipeline proto from the generated code is accepted)", async () => {
    const jobs = new ServiceClient(JobService, prism().jobEndpoint);
    try {
      expect((await jobs.unary("getJobs", {})).jobInfo).toEqual([]);
      const prepared = await jobs.unary("prepare", { jobName: "tidemark-smoke", pipeline: impulseOnly() });
      expect(prepared.preparationId).not.toBe("");
      // Prism asks for the job's artifacts at this endpoint (an empty manifest is all a worker from this project needs).
      expect(prepared.artifactStagingEndpoint?.url).toMatch(/:\d+$/);
    } finally {
      jobs.close();
    }
  });

  it("runs a job to the end: prepared, its artifacts offered, run, followed on the state stream to DONE", async () => {
    const client = new JobClient(prism().jobEndpoint);
    try {
      const jobId = await client.run(create(PipelineSchema, impulseOnly()), "tidemark-impulse");
      const result = await client.waitUntilFinish(jobId);
      expect(result.state).toBe("DONE");
      expect(result.jobId).toBe(jobId);
    } finally {
      client.close();
    }
  });

  it("an EXTERNAL environment: Prism asks the worker pool to start a worker (id, control endpoint); a cancelled job ends CANCELLED", async () => {
    const requests: { workerId: string; control: string | undefined }[] = [];
    const pool = await serveUnary(BeamFnExternalWorkerPool, {
      startWorker: (req) => {
        requests.push({ workerId: req.workerId, control: req.controlEndpoint?.url });
        return {};
      },
      stopWorker: () => ({}),
    });
    const client = new JobClient(prism().jobEndpoint);
    try {
      const p = Pipeline.create();
      p.apply(read(TestStream.create<number>().addElements({ value: 1, timestamp: 0 }))).apply(
        map((x: number) => x + 1),
      );
      const environment = {
        urn: URNS.environments.EXTERNAL as string,
        payload: toBinary(
          ExternalPayloadSchema,
          create(ExternalPayloadSchema, { endpoint: { url: `127.0.0.1:${pool.port}` } }),
        ),
      };
      const jobId = await client.run(translate(p.graph(), environment, { stableInput: "omit" }), "tidemark-pool");
      for (let i = 0; i < 100 && requests.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      // The worker for environment "tidemark" of this job, told where the runner's control service is.
      expect(requests).toHaveLength(1);
      expect(requests[0]?.workerId).toMatch(/tidemark/);
      expect(requests[0]?.control).toMatch(/:\d+$/);
      // No worker connects (the Fn API worker is the next step): the job waits, and is cancelled cleanly.
      await client.cancel(jobId);
      expect((await client.waitUntilFinish(jobId)).state).toBe("CANCELLED");
    } finally {
      client.close();
      await pool.stop();
    }
  });

  it("a call to a port where nothing listens fails with the service, the method and the address", async () => {
    const nowhere = new ServiceClient(JobService, "127.0.0.1:1");
    await expect(nowhere.unary("getJobs", {}, 2_000)).rejects.toThrow(
      "org.apache.beam.model.job_management.v1.JobService/GetJobs at 127.0.0.1:1:",
    );
    nowhere.close();
  });
});
