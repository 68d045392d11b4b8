/**
 * A batched sink's processing time (`io/batched-write.ts`): its writes run after the step's call has returned (in the
 * chain of batches), yet the synchronous part of each write (building the request) is the sink step's, not "other".
 * Measured with a sampler thread against the time the writes themselves measured.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Metrics } from "../../core/metrics.ts";
import { Pipeline } from "../../core/pipeline.ts";
import { batchedWrite } from "../../io/batched-write.ts";
import { DirectRunner } from "../../runners/direct/direct-runner.ts";
import { jobProcessingTime, type StepTimeSampler, startStepTimeSampler } from "../../runners/observe/step-time.ts";
import { create } from "../../transforms/read.ts";
import { until } from "../until.ts";

let sampler: StepTimeSampler;
beforeAll(async () => {
  sampler = await startStepTimeSampler();
  await until("the sampler's first look", () => sampler.read().samples > 0, { pollMs: 1 });
});
afterAll(async () => {
  await sampler.stop();
});

describe("batchedWrite", () => {
  it("runs each write's synchronous part in the sink step: its time and its Metrics are the step's", async () => {
    let buildMs = 0;
    const p = Pipeline.create();
    p.apply(create(Array.from({ length: 200 }, (_, i) => i)), "Rows").apply(
      batchedWrite<number>({
        maxRows: 10,
        metricsName: "test_table",
        write: async (rows) => {
          // Building the batch's request: 10 ms of this thread, before the first await.
          const start = performance.now();
          while (performance.now() < start + 10) {
            // spin
          }
          buildMs += performance.now() - start;
          Metrics.counter("test", "requests_built").inc();
          await new Promise<void>((resolve) => setImmediate(resolve));
          return rows.length;
        },
      }),
      "WriteRows",
    );
    const running = new DirectRunner().start(p);
    const snapshot = await running.waitUntilFinish();
    const times = jobProcessingTime(sampler.read(), running.metricsContainers?.() ?? []);
    const sinkMs = (times.steps.get("WriteRows") ?? 0) * 1000;
    const context = JSON.stringify({ sinkMs, buildMs });
    expect(buildMs, context).toBeGreaterThanOrEqual(200);
    expect(sinkMs, context).toBeGreaterThanOrEqual(0.5 * buildMs);
    expect(snapshot.user).toContainEqual({
      step: "WriteRows",
      namespace: "test",
      name: "requests_built",
      labels: {},
      kind: "counter",
      value: 20,
    });
    expect(snapshot.user).toContainEqual({
      step: "WriteRows",
      namespace: "tidemark",
      name: "sink_rows_written",
      labels: { sink: "test_table" },
      kind: "counter",
      value: 200,
    });
  });
});
