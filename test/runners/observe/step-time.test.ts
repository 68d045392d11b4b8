/**
 * Per-step processing time (`runners/observe/step-time.ts`): the sampler's loop driven look by look with a scripted
 * clock over a known sequence of entered steps (each look's time must go to the step running at that look), then the
 * real thing: a sampler thread over a pipeline whose one step busy-waits, measured against the time the step itself
 * measured.
 */
import { afterEach, describe, expect, it } from "vitest";
import { enterMetricsContainer, MetricsContainer, runningStep, stepOfIndex } from "../../../core/metrics.ts";
import { Pipeline } from "../../../core/pipeline.ts";
import { DirectRunner } from "../../../runners/direct/direct-runner.ts";
import { JobMetrics } from "../../../runners/observe/prometheus.ts";
import {
  type StepTimeSampler,
  sampleSteps,
  startStepTimeSampler,
  stepTimesOf,
} from "../../../runners/observe/step-time.ts";
import { map } from "../../../transforms/element-wise.ts";
import { parDo } from "../../../transforms/par-do.ts";
import { create } from "../../../transforms/read.ts";
import { until } from "../../until.ts";
import { parseExposition } from "./exposition.ts";

/**
 * Runs the sampler's loop over `looks`: before look i the scripted clock moves `gapMs` and `act` runs (what the thread
 * does meanwhile: enter or leave steps); the loop stops after the last look. Returns the loop's counts.
 */
function drive(
  looks: readonly { readonly gapMs: number; readonly act?: () => void }[],
  running: Int32Array,
  capacity: number,
): { micros: BigInt64Array; control: Int32Array } {
  const control = new Int32Array(2);
  const micros = new BigInt64Array(capacity);
  let clock = 1_000;
  let look = 0;
  const pauses: number[] = [];
  sampleSteps(
    running,
    control,
    micros,
    1,
    () => clock,
    (ms) => {
      pauses.push(ms);
      const next = looks[look++];
      if (next === undefined) throw new Error("the loop looked past the script");
      clock += next.gapMs;
      next.act?.();
      if (look === looks.length) control[0] = 1;
    },
  );
  expect(pauses).toEqual(looks.map(() => 1));
  return { micros, control };
}

describe("per-step processing time: the sampler's attribution", () => {
  it("gives each look's time to the step running at the look, the inner one when nested, and the rest to other", () => {
    const a = new MetricsContainer("Attribution/A");
    const b = new MetricsContainer("Attribution/B");
    const saved: MetricsContainer[] = [];
    const enter = (c: MetricsContainer) => () => {
      saved.push(enterMetricsContainer(c));
    };
    const leave = () => {
      enterMetricsContainer(saved.pop() as MetricsContainer);
    };
    const { micros, control } = drive(
      [
        { gapMs: 1 }, // nothing entered yet: other
        { gapMs: 1, act: enter(a) }, // A
        { gapMs: 1 }, // A
        { gapMs: 1, act: enter(b) }, // B, fused inside A
        { gapMs: 2.5, act: leave }, // a late look, back in A: the whole 2.5 ms is A's
        { gapMs: 0.0625, act: leave }, // outside any step: other, 62 us (62.5 seen, the fraction kept)
        { gapMs: 0.0625 }, // other, 63 us (the carried half)
        { gapMs: 3, act: enter(b) }, // B
        { gapMs: 0, act: leave }, // no time passed: nothing added
      ],
      runningStep(),
      Math.max(a.index, b.index) + 1,
    );
    expect(saved).toEqual([]);
    expect(Number(micros[a.index])).toBe(1_000 + 1_000 + 2_500);
    expect(Number(micros[b.index])).toBe(1_000 + 3_000);
    expect(Number(micros[0])).toBe(1_000 + 62 + 63);
    expect(control[1]).toBe(9);
    const times = stepTimesOf(micros, control[1] as number, stepOfIndex);
    expect(times.steps.get("Attribution/A")).toBe(0.0045);
    expect(times.steps.get("Attribution/B")).toBe(0.004);
    expect([...times.steps.values()].reduce((x, y) => x + y, 0)).toBeCloseTo(0.0085, 12);
    expect(times.otherSeconds).toBeCloseTo(0.001125, 9);
    expect(times.sampledSeconds * 1000).toBeCloseTo(9.625, 9);
    expect(times.samples).toBe(9);
  });

  it("counts a step index past its capacity as other, and names steps by index", () => {
    const running = new Int32Array(1);
    const { micros } = drive(
      [
        {
          gapMs: 2,
          act: () => {
            running[0] = 1;
          },
        },
        {
          gapMs: 3,
          act: () => {
            running[0] = 7; // past the 4 slots
          },
        },
      ],
      running,
      4,
    );
    expect([...micros].map(Number)).toEqual([3_000, 2_000, 0, 0]);
    const names = ["", "One", "Two"];
    const times = stepTimesOf(micros, 2, (i) => names[i]);
    expect(times).toEqual({
      steps: new Map([
        ["One", 0.002],
        ["Two", 0],
      ]),
      otherSeconds: 0.003,
      sampledSeconds: 0.005,
      samples: 2,
    });
  });
});

/** Waits `ms` of wall time on this thread without yielding (the work a step does). */
function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

describe("per-step processing time: a sampler thread over a running pipeline", () => {
  let sampler: StepTimeSampler | undefined;
  afterEach(async () => {
    await sampler?.stop();
    sampler = undefined;
  });

  it("gives a busy step most of the time, far more than a trivial one, and JobMetrics serves it", async () => {
    const s = await startStepTimeSampler();
    sampler = s;
    await until("the sampler's first look", () => s.read().samples > 0, { pollMs: 1 });
    const before = s.read();
    let busyMs = 0;
    const p = Pipeline.create();
    p.apply(create(Array.from({ length: 20 }, (_, i) => i)), "Numbers")
      .apply(
        parDo<number, number>({
          process(x, ctx) {
            const t0 = performance.now();
            busyWait(10);
            busyMs += performance.now() - t0;
            ctx.output(x);
          },
        }),
        "Busy",
      )
      .apply(map((x: number) => x + 1, "Trivial"));
    const started = performance.now();
    const running = new DirectRunner().start(p);
    const snapshot = await running.waitUntilFinish();
    const wallMs = performance.now() - started;
    const after = s.read();
    const busy = ((after.steps.get("Busy") ?? 0) - (before.steps.get("Busy") ?? 0)) * 1000;
    const trivial = ((after.steps.get("Trivial") ?? 0) - (before.steps.get("Trivial") ?? 0)) * 1000;
    const sampled = (after.sampledSeconds - before.sampledSeconds) * 1000;
    const context = JSON.stringify({ busy, trivial, sampled, busyMs, wallMs, samples: after.samples - before.samples });
    expect(busyMs, context).toBeGreaterThanOrEqual(200);
    // Generous bounds that still fail when the time goes elsewhere: at least half of what was sampled while the
    // pipeline ran, more than 5x the trivial step, and no more than the wall time the run took (plus a look's slack).
    expect(busy, context).toBeGreaterThanOrEqual(0.5 * sampled);
    expect(busy, context).toBeGreaterThan(5 * trivial);
    expect(busy, context).toBeLessThanOrEqual(wallMs + 50);
    expect(busy, context).toBeGreaterThanOrEqual(0.5 * busyMs);

    // Another job's step in this process, seen by the sampler: not this job's to serve.
    const other = enterMetricsContainer(new MetricsContainer("NotThisJob"));
    busyWait(20);
    enterMetricsContainer(other);
    await until("the sampler saw the other job's step", () => s.read().steps.has("NotThisJob"), { pollMs: 1 });
    const metrics = new JobMetrics(() => snapshot, Date.now, { stepTimes: () => s.read() });
    const served = parseExposition(await metrics.text());
    const now = s.read();
    expect(served.value("tidemark_step_processing_seconds_total", { step: "Busy" })).toBeGreaterThanOrEqual(
      after.steps.get("Busy") ?? 0,
    );
    expect(served.value("tidemark_step_processing_seconds_total", { step: "Busy" })).toBeLessThanOrEqual(
      now.steps.get("Busy") ?? 0,
    );
    // Only the job's steps are served, and never "" (time outside any step is other).
    const servedSteps = served.samples("tidemark_step_processing_seconds_total").map((x) => x.labels.step);
    expect(servedSteps).toContain("Trivial");
    expect(servedSteps).not.toContain("NotThisJob");
    expect(servedSteps).not.toContain("");
    expect(served.value("tidemark_processing_other_seconds_total", {})).toBeGreaterThan(0);
  });
});
