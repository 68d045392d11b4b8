/**
 * Per-step processing time (`runners/observe/step-time.ts`, the loop in `step-sampler.js`): the sampler's loop driven
 * look by look with a scripted clock over a known sequence of entered containers (each look's time must go to the
 * container running at that look), a slot given back and taken by another container, and the sampler's thread: its
 * stop ends a process that has nothing else to do, and a sampler that died is said, not read as zeros.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { enterMetricsContainer, MetricsContainer, STEP_SLOTS, UNATTRIBUTED } from "../../../core/metrics.ts";
import { sampleSteps } from "../../../runners/observe/step-sampler.js";
import {
  jobProcessingTime,
  samplerMemory,
  type StepTimeSampler,
  startStepTimeSampler,
  stepTimesOf,
} from "../../../runners/observe/step-time.ts";
import { until } from "../../until.ts";

type Memory = ReturnType<typeof samplerMemory>;

/**
 * Runs the sampler's loop over `looks`: before look i the scripted clock moves `gapMs` and `act` runs (what the thread
 * does meanwhile: enter or leave containers); the loop stops after the last look.
 */
function drive(looks: readonly { readonly gapMs: number; readonly act?: () => void }[], memory: Memory): void {
  let clock = 1_000;
  let look = 0;
  const pauses: number[] = [];
  sampleSteps(
    memory,
    1,
    () => clock,
    (ms) => {
      pauses.push(ms);
      const next = looks[look++];
      if (next === undefined) throw new Error("the loop looked past the script");
      clock += next.gapMs;
      next.act?.();
      if (look === looks.length) memory.control[0] = 1;
    },
  );
  expect(pauses).toEqual(looks.map(() => 1));
}

/** Enters and leaves containers as a runner does (each enter returns the one to put back). */
function nesting() {
  const saved: MetricsContainer[] = [];
  return {
    saved,
    enter: (c: MetricsContainer) => () => {
      saved.push(enterMetricsContainer(c));
    },
    leave: () => {
      enterMetricsContainer(saved.pop() as MetricsContainer);
    },
  };
}

describe("per-step processing time: the sampler's attribution", () => {
  it("gives each look's time to the container running at the look, the inner one when nested, the rest to other", () => {
    const a = new MetricsContainer("Attribution/A");
    const b = new MetricsContainer("Attribution/B");
    const { saved, enter, leave } = nesting();
    const memory = samplerMemory();
    drive(
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
      memory,
    );
    expect(saved).toEqual([]);
    const times = stepTimesOf(memory, new WeakMap());
    expect(times.secondsOf(a)).toBe(0.0045);
    expect(times.secondsOf(b)).toBe(0.004);
    expect(times.otherSeconds).toBeCloseTo(0.001125, 9);
    expect(times.sampledSeconds * 1000).toBeCloseTo(9.625, 9);
    expect(times.samples).toBe(9);
    // The process-wide container has no slot: its time is other, and no figure of its own.
    expect(times.secondsOf(UNATTRIBUTED)).toBeUndefined();
    expect(jobProcessingTime(times, [a, b, UNATTRIBUTED])).toEqual({
      steps: new Map([
        ["Attribution/A", 0.0045],
        ["Attribution/B", 0.004],
      ]),
      otherSeconds: times.otherSeconds,
    });
    a.release();
    b.release();
  });

  it("keeps two jobs' containers of the same step name apart, and sums a job's containers of one name", () => {
    const jobOne = new MetricsContainer("Shared/Name");
    const jobTwo = new MetricsContainer("Shared/Name");
    const jobTwoAgain = new MetricsContainer("Shared/Name"); // another worker's container of the same job's step
    expect(new Set([jobOne.slot, jobTwo.slot, jobTwoAgain.slot]).size).toBe(3);
    const { enter, leave } = nesting();
    const memory = samplerMemory();
    drive(
      [
        { gapMs: 1, act: enter(jobOne) },
        { gapMs: 4 },
        { gapMs: 2, act: leave },
        { gapMs: 3, act: enter(jobTwo) },
        { gapMs: 1, act: leave },
        { gapMs: 5, act: enter(jobTwoAgain) },
        { gapMs: 1, act: leave },
      ],
      memory,
    );
    const times = stepTimesOf(memory, new WeakMap());
    expect(jobProcessingTime(times, [jobOne]).steps).toEqual(new Map([["Shared/Name", 0.005]]));
    expect(jobProcessingTime(times, [jobTwo, jobTwoAgain]).steps).toEqual(new Map([["Shared/Name", 0.003 + 0.005]]));
    for (const c of [jobOne, jobTwo, jobTwoAgain]) c.release();
  });

  it("never gives a container less than it gave before (a read between the sampler's zeroing and its new owner)", () => {
    const memory = samplerMemory();
    const last = new WeakMap<MetricsContainer, number>();
    const c = new MetricsContainer("Race/Step");
    try {
      Atomics.store(memory.owners, c.slot, c.generation);
      Atomics.store(memory.micros, c.slot, 3_000n);
      expect(stepTimesOf(memory, last).secondsOf(c)).toBe(0.003);
      // The sampler hands the slot on: its count zeroed first, its owner set after (this read falls between).
      Atomics.store(memory.micros, c.slot, 0n);
      expect(stepTimesOf(memory, last).secondsOf(c)).toBe(0.003);
      Atomics.store(memory.owners, c.slot, c.generation + 1);
      expect(stepTimesOf(memory, last).secondsOf(c)).toBe(0.003);
    } finally {
      c.release();
    }
  });

  it("starts a slot's count again for the container that takes it after another gave it back", () => {
    const { enter, leave } = nesting();
    const memory = samplerMemory();
    const last = new WeakMap<MetricsContainer, number>();
    const first = new MetricsContainer("Reuse/First");
    // Every other slot taken (kept referenced, so none is given back meanwhile): the next container gets none.
    const held: MetricsContainer[] = [];
    for (let c = new MetricsContainer("Reuse/Filler"); c.slot !== 0; c = new MetricsContainer("Reuse/Filler")) {
      held.push(c);
    }
    expect(held.length).toBeLessThan(STEP_SLOTS);
    const untimed = new MetricsContainer("Reuse/Untimed");
    expect(untimed.slot).toBe(0);
    let second: MetricsContainer | undefined;
    drive(
      [
        { gapMs: 1, act: enter(first) }, // First
        { gapMs: 2 }, // First: 3 ms in all
        {
          gapMs: 1,
          act: () => {
            leave();
            expect(stepTimesOf(memory, last).secondsOf(first)).toBe(0.003); // read while it owns the slot
            first.release();
            second = new MetricsContainer("Reuse/Second");
            expect(second.slot).toBe(first.slot); // the only slot free
            expect(second.generation).toBe(first.generation + 1);
            enter(second)();
          },
        }, // Second, from zero: 1 ms
        { gapMs: 3, act: enter(first) }, // a released container: other
        { gapMs: 5, act: leave }, // Second: 6 ms in all
        { gapMs: 7, act: leave }, // other
        { gapMs: 1, act: enter(untimed) }, // a container without a slot: other
        { gapMs: 11, act: leave }, // other
      ],
      memory,
    );
    const times = stepTimesOf(memory, last);
    expect(times.secondsOf(second as MetricsContainer)).toBe(0.006);
    expect(times.secondsOf(first)).toBe(0.003); // its last reading, not the new owner's count
    expect(times.secondsOf(untimed)).toBeUndefined();
    expect(times.otherSeconds).toBe(0.022);
    expect(times.sampledSeconds).toBe(0.031);
    second?.release();
    for (const c of held) c.release();
  });
});

describe("per-step processing time: the sampler's thread", () => {
  let sampler: StepTimeSampler | undefined;
  afterEach(async () => {
    await sampler?.stop();
    sampler = undefined;
  });

  it("gives a container the time this thread spent in it, on a real thread, and stops", async () => {
    const s = await startStepTimeSampler();
    sampler = s;
    const c = new MetricsContainer("Thread/Busy");
    await until("the sampler's first look", () => s.read().samples > 0, { pollMs: 1 });
    const before = s.read().secondsOf(c) ?? Number.NaN;
    const outer = enterMetricsContainer(c);
    const end = performance.now() + 30;
    while (performance.now() < end) {
      // this thread's work, in the container
    }
    enterMetricsContainer(outer);
    await until("the sampler saw the container", () => (s.read().secondsOf(c) ?? 0) > before, { pollMs: 1 });
    // At most the 30 ms spent in it and the gap before the sampler's look that found it there (the sampler's thread
    // can be off the CPU for a while on a loaded 2-core machine: 250 ms allowed).
    expect((s.read().secondsOf(c) ?? 0) - before).toBeLessThanOrEqual(0.03 + 0.25);
    sampler = undefined;
    await s.stop();
    c.release();
  });

  it("lets a process with nothing else to do wait for its stop (the thread does not keep it alive, but stop does)", () => {
    // A child process that starts a sampler, then stops it with nothing else pending: before the fix its stop's
    // promise never settled and the process ended quietly at 0 with nothing printed.
    const dir = mkdtempSync(join(tmpdir(), "tidemark-sampler-"));
    const script = join(dir, "stop.ts");
    const module = fileURLToPath(new URL("../../../runners/observe/step-time.ts", import.meta.url));
    writeFileSync(
      script,
      [
        `import { startStepTimeSampler } from ${JSON.stringify(module)};`,
        "void (async () => {",
        "  const s = await startStepTimeSampler();",
        "  await s.stop();",
        '  process.stdout.write("stopped\\n");',
        "  process.exitCode = 3;",
        "})();",
      ].join("\n"),
    );
    const child = spawnSync(process.execPath, ["--import", "tsx", script], { encoding: "utf8", timeout: 60_000 });
    rmSync(dir, { recursive: true, force: true });
    expect({ status: child.status, stdout: child.stdout, stderr: child.stderr }).toEqual({
      status: 3,
      stdout: "stopped\n",
      stderr: "",
    });
  });
});
