/**
 * `startOnPrism` follows a job on Prism (v2.77.0) through the Job API: its hooks from the job's submission on, and a
 * hook's error failing the run (as on the direct runner), never the process.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Pipeline } from "../../../core/pipeline.ts";
import { TestStream } from "../../../io/test-stream/test-stream.ts";
import type { RunnerJobState } from "../../../runners/direct/direct-runner.ts";
import { startOnPrism } from "../../../runners/portable/prism-runner.ts";
import { map } from "../../../transforms/element-wise.ts";
import { read } from "../../../transforms/read.ts";
import { usePrism } from "./prism-fixture.ts";

/** 500 numbers a second apart, then a step: a few seconds of Prism (each TestStream event run to quiescence). */
function numbers(): Pipeline {
  const p = Pipeline.create();
  let s = TestStream.create<number>();
  for (let i = 0; i < 500; i++) s = s.addElements({ value: i, timestamp: i * 1000 });
  p.apply(read(s.advanceWatermarkToInfinity()), "Read").apply(map((x: number) => x, "M"));
  return p;
}

describe("a job followed on Prism", () => {
  const prism = usePrism();
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  beforeEach(() => {
    unhandled.length = 0;
    process.on("unhandledRejection", onUnhandled);
  });
  afterEach(() => {
    process.off("unhandledRejection", onUnhandled);
  });

  it("is known from its submission: onStep 0 is job-submitted, with the job's id, STARTING; then one per reading", async () => {
    const steps: { index: number; event: string; state: RunnerJobState | undefined }[] = [];
    const running = startOnPrism(
      numbers(),
      { jobEndpoint: prism().jobEndpoint },
      { onStep: (r, { index, event }) => void steps.push({ index, event, state: r.jobState?.() }) },
    );
    await running.waitUntilFinish();
    const [first, ...readings] = steps;
    expect(first).toEqual({
      index: 0,
      event: "job-submitted",
      state: { state: "STARTING", jobId: expect.stringMatching(/\S/) },
    });
    expect(readings.length).toBeGreaterThan(0);
    for (const [i, s] of readings.entries()) {
      expect(s).toMatchObject({ index: i + 1, event: "job-reading", state: { jobId: first?.state?.jobId } });
    }
    expect(running.jobState()).toEqual({ state: "DONE", jobId: first?.state?.jobId });
  }, 120_000);

  it("an onStep hook that throws fails the run with its error, the job cancelled, as on the direct runner", async () => {
    let readings = 0;
    const running = startOnPrism(
      numbers(),
      { jobEndpoint: prism().jobEndpoint },
      {
        onStep: (_r, { event }) => {
          if (event === "job-reading" && ++readings === 1) throw new Error("the hook failed");
        },
      },
    );
    await expect(running.waitUntilFinish()).rejects.toThrow("the hook failed");
    expect(running.jobState()).toMatchObject({ state: "FAILED", failure: "the hook failed" });
    // Not one more reading handed on after the failure.
    expect(readings).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(unhandled).toEqual([]);
  }, 120_000);

  it("a hook's rejected promise, or an error at the submission, fails the run too", async () => {
    const rejected = startOnPrism(
      numbers(),
      { jobEndpoint: prism().jobEndpoint },
      {
        onStep: async (_r, { index }) => {
          if (index === 1) throw new Error("async hook failed");
        },
      },
    );
    await expect(rejected.waitUntilFinish()).rejects.toThrow("async hook failed");
    const atSubmission = startOnPrism(
      numbers(),
      { jobEndpoint: prism().jobEndpoint },
      {
        onStep: (_r, { index }) => {
          if (index === 0) throw new Error("refused at submission");
        },
      },
    );
    await expect(atSubmission.waitUntilFinish()).rejects.toThrow("refused at submission");
    expect(atSubmission.jobState()).toMatchObject({ state: "FAILED", jobId: expect.stringMatching(/\S/) });
    await new Promise((r) => setImmediate(r));
    expect(unhandled).toEqual([]);
  }, 120_000);
});
