/**
 * Per-step processing time on the direct runner (`runners/observe/step-time.ts`): a sampler thread over pipelines
 * whose steps busy-wait known amounts, each step's figure measured against the time the step itself measured. Where
 * the time goes: a busy ParDo against a trivial one, a busy CombineFn against the ParDo before it, two jobs with a step
 * of the same name, and an asynchronous DoFn's work after an await. Bounds are generous (a sampler on a loaded
 * machine is exact only on average) but fail when the time goes to another step.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CombineFn } from "../../../core/combine-fn.ts";
import type { KV } from "../../../core/kv.ts";
import { currentMetricsContainer, Metrics, runInMetricsContainer } from "../../../core/metrics.ts";
import { Pipeline } from "../../../core/pipeline.ts";
import { DirectRunner, type RunningPipeline } from "../../../runners/direct/direct-runner.ts";
import { JobMetrics } from "../../../runners/observe/prometheus.ts";
import {
  type JobProcessingTime,
  jobProcessingTime,
  type StepTimeSampler,
  startStepTimeSampler,
} from "../../../runners/observe/step-time.ts";
import { combinePerKey } from "../../../transforms/combine.ts";
import { map } from "../../../transforms/element-wise.ts";
import { parDo } from "../../../transforms/par-do.ts";
import { create } from "../../../transforms/read.ts";
import { until } from "../../until.ts";
import { parseExposition } from "./exposition.ts";

/** Waits `ms` of wall time on this thread without yielding (the work a step does); returns the time it took. */
function busyWait(ms: number): number {
  const start = performance.now();
  const end = start + ms;
  while (performance.now() < end) {
    // spin
  }
  return performance.now() - start;
}

let sampler: StepTimeSampler;
beforeAll(async () => {
  sampler = await startStepTimeSampler();
  await until("the sampler's first look", () => sampler.read().samples > 0, { pollMs: 1 });
});
afterAll(async () => {
  await sampler.stop();
});

/** Runs `p` on the direct runner; returns the run and its job's processing time per step, in milliseconds. */
async function run(p: Pipeline): Promise<{ running: RunningPipeline; ms: (step: string) => number }> {
  const running = new DirectRunner().start(p);
  await running.waitUntilFinish();
  const times: JobProcessingTime = jobProcessingTime(sampler.read(), running.metricsContainers?.() ?? []);
  return { running, ms: (step) => (times.steps.get(step) ?? Number.NaN) * 1000 };
}

describe("per-step processing time on the direct runner", () => {
  it("gives a busy step most of the time, far more than a trivial one, and JobMetrics serves the job's steps", async () => {
    let busyMs = 0;
    const p = Pipeline.create();
    p.apply(create(Array.from({ length: 20 }, (_, i) => i)), "Numbers")
      .apply(
        parDo<number, number>({
          process(x, ctx) {
            busyMs += busyWait(10);
            ctx.output(x);
          },
        }),
        "Busy",
      )
      .apply(map((x: number) => x + 1, "Trivial"));
    const before = sampler.read();
    const started = performance.now();
    const { running, ms } = await run(p);
    const wallMs = performance.now() - started;
    const sampled = (sampler.read().sampledSeconds - before.sampledSeconds) * 1000;
    const context = JSON.stringify({ busy: ms("Busy"), trivial: ms("Trivial"), sampled, busyMs, wallMs });
    expect(busyMs, context).toBeGreaterThanOrEqual(200);
    expect(ms("Busy"), context).toBeGreaterThanOrEqual(0.5 * sampled);
    expect(ms("Busy"), context).toBeGreaterThanOrEqual(0.5 * busyMs);
    expect(ms("Busy"), context).toBeLessThanOrEqual(wallMs + 50);
    expect(ms("Busy"), context).toBeGreaterThan(5 * ms("Trivial"));

    const metrics = new JobMetrics(() => running.metrics(), Date.now, {
      processingTime: () => jobProcessingTime(sampler.read(), running.metricsContainers?.() ?? []),
    });
    const served = parseExposition(await metrics.text());
    // Read later than `ms`, so at least as much (microseconds from the sampler: compared to the microsecond, as
    // seconds in floating point differ in their last bits).
    expect(served.value("tidemark_step_processing_seconds_total", { step: "Busy" })).toBeGreaterThanOrEqual(
      ms("Busy") / 1000 - 1e-6,
    );
    // The job's steps that run code (the read has no container), never "" (time outside any step is other).
    const servedSteps = served.samples("tidemark_step_processing_seconds_total").map((x) => x.labels.step);
    expect(servedSteps.sort()).toEqual(["Busy", "Trivial"]);
    expect(served.value("tidemark_processing_other_seconds_total", {})).toBeGreaterThan(0);
  });

  it("gives a busy CombineFn's time to the combine, not to the ParDo before it, and counts its Metrics there", async () => {
    let addMs = 0;
    const heavy: CombineFn<number, number, number> = {
      createAccumulator: () => 0,
      addInput(acc, v) {
        addMs += busyWait(1);
        Metrics.counter("test", "added").inc();
        return acc + v;
      },
      mergeAccumulators: (accs) => accs.reduce((a, b) => a + b, 0),
      extractOutput: (acc) => acc,
    };
    const p = Pipeline.create();
    p.apply(create(Array.from({ length: 200 }, (_, i) => i)), "Numbers")
      .apply(map((x: number): KV<string, number> => [String(x % 5), x], "KeyIt"))
      .apply(combinePerKey(heavy, "HeavyCombine"));
    const { running, ms } = await run(p);
    const context = JSON.stringify({ combine: ms("HeavyCombine"), keyIt: ms("KeyIt"), addMs });
    expect(addMs, context).toBeGreaterThanOrEqual(200);
    expect(ms("HeavyCombine"), context).toBeGreaterThanOrEqual(0.5 * addMs);
    expect(ms("KeyIt"), context).toBeLessThan(0.2 * ms("HeavyCombine"));
    // The CombineFn's metric is the combine step's (it ran in the step's container).
    expect(running.metrics().user).toContainEqual({
      step: "HeavyCombine",
      namespace: "test",
      name: "added",
      labels: {},
      kind: "counter",
      value: 200,
    });
  });

  it("keeps apart two jobs running at once with a step of the same name", async () => {
    let busyMs = 0;
    const job = (busy: boolean) => {
      const p = Pipeline.create();
      p.apply(create(Array.from({ length: 20 }, (_, i) => i)), "Numbers").apply(
        parDo<number, number>({
          process(x, ctx) {
            if (busy) busyMs += busyWait(10);
            ctx.output(x);
          },
        }),
        "Work",
      );
      return p;
    };
    const [heavy, light] = await Promise.all([run(job(true)), run(job(false))]);
    const context = JSON.stringify({ heavy: heavy.ms("Work"), light: light.ms("Work"), busyMs });
    expect(busyMs, context).toBeGreaterThanOrEqual(200);
    expect(heavy.ms("Work"), context).toBeGreaterThanOrEqual(0.5 * busyMs);
    // The light job's step runs for microseconds; a sampler's look that finds it there after a gap (its thread off
    // the CPU on a loaded machine) gives it the gap: bounded well under the heavy one's, not near zero.
    expect(light.ms("Work"), context).toBeLessThan(0.3 * busyMs);
  });

  it("counts an async DoFn's work after an await as other, unless it runs it in the container it kept", async () => {
    let afterAwaitMs = 0;
    const step = (inContainer: boolean) =>
      parDo<number, never>({
        async process() {
          const container = currentMetricsContainer();
          await Promise.resolve();
          afterAwaitMs += inContainer ? runInMetricsContainer(container, () => busyWait(10)) : busyWait(10);
        },
      });
    const p = Pipeline.create();
    const numbers = p.apply(create(Array.from({ length: 20 }, (_, i) => i)), "Numbers");
    numbers.apply(step(true), "Kept");
    numbers.apply(step(false), "Lost");
    const { ms } = await run(p);
    const context = JSON.stringify({ kept: ms("Kept"), lost: ms("Lost"), afterAwaitMs });
    expect(afterAwaitMs, context).toBeGreaterThanOrEqual(400);
    expect(ms("Kept"), context).toBeGreaterThanOrEqual(0.25 * afterAwaitMs);
    expect(ms("Lost"), context).toBeLessThan(0.1 * ms("Kept"));
  });
});
