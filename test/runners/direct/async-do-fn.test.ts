import { describe, expect, it } from "vitest";
import type { DoFn } from "../../../core/do-fn.ts";
import type { KV } from "../../../core/kv.ts";
import { Pipeline } from "../../../core/pipeline.ts";
import { eventTimer, type TimerSpec, type ValueStateSpec, valueState } from "../../../core/state.ts";
import { batchedWrite } from "../../../io/batched-write.ts";
import { TestStream } from "../../../io/test-stream/test-stream.ts";
import { DirectRunner } from "../../../runners/direct/direct-runner.ts";
import { StepError } from "../../../runners/fn/step-error.ts";
import { map } from "../../../transforms/element-wise.ts";
import { parDo } from "../../../transforms/par-do.ts";
import { read } from "../../../transforms/read.ts";
import { statefulParDo } from "../../../transforms/stateful-par-do.ts";

/** A stream of `n` numbers, one per bundle, at timestamps 0..n-1. */
function numbers(n: number): TestStream<number> {
  let s = TestStream.create<number>();
  for (let i = 0; i < n; i++) s = s.addElements({ value: i, timestamp: i });
  return s.advanceWatermarkToInfinity();
}

/** Resolves after a few turns of the event loop (a write that completes later, as I/O does). */
function later(turns: number): Promise<void> {
  let p = Promise.resolve();
  for (let i = 0; i < turns; i++) p = p.then(() => new Promise<void>((r) => setImmediate(r)));
  return p;
}

describe("DirectRunner: asynchronous DoFns", () => {
  it("waits for every promise before the run ends, and writes of a batched sink complete in order", async () => {
    const written: number[][] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const p = Pipeline.create();
    p.apply(read(numbers(50))).apply(
      batchedWrite<number>({
        maxRows: 7,
        write: async (rows) => {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          // Later batches complete faster: without the sink's chain they would overtake earlier ones.
          await later(1 + Math.floor(Math.random() * 5));
          written.push(rows);
          inFlight--;
        },
      }),
      "Write",
    );
    await new DirectRunner().run(p, { maxBundleMs: 60_000 });
    expect(written.flat()).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(written.every((b) => b.length <= 7)).toBe(true);
    // The sink's chain writes one batch at a time.
    expect(maxInFlight).toBe(1);
  });

  it("a rejected write fails the run with a StepError naming the step, the original error as cause", async () => {
    const p = Pipeline.create();
    const cause = new Error("warehouse is full");
    p.apply(read(numbers(10))).apply(
      parDo<number, never>({
        async process(v) {
          await later(2);
          if (v === 4) throw cause;
        },
      }),
      "Sink",
    );
    const e = await new DirectRunner().run(p).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(StepError);
    expect((e as StepError).step).toBe("Sink");
    expect((e as StepError).message).toContain("warehouse is full");
    expect((e as StepError).cause).toBe(cause);
  });

  it("a rejected finishBundle fails the run naming the step and the phase", async () => {
    const p = Pipeline.create();
    p.apply(read(numbers(3))).apply(
      parDo<number, never>({
        process() {},
        async finishBundle() {
          throw new Error("flush refused");
        },
      }),
      "Flush",
    );
    await expect(new DirectRunner().run(p)).rejects.toThrow('step "Flush" failed in finishBundle: flush refused');
  });

  it("outputs are made during the call: an output after an await is refused with an error naming the step", async () => {
    const p = Pipeline.create();
    p.apply(read(numbers(3)))
      .apply(
        parDo<number, number>({
          async process(v, ctx) {
            ctx.output(v); // during the call: fine
            await later(1);
            ctx.output(v * 10); // after the call returned
          },
        }),
        "Enrich",
      )
      .apply(map((v: number) => v));
    await expect(new DirectRunner().run(p)).rejects.toThrow(
      /step "Enrich" failed.*an output was made after process returned/,
    );
  });

  it("backpressure: the runner stops reading while a step has more promises pending than allowed", async () => {
    let read_ = 0;
    let done = 0;
    let maxAhead = 0;
    const slow: DoFn<number, never> = {
      process() {
        read_++;
        return later(3).then(() => {
          done++;
        });
      },
    };
    const p = Pipeline.create();
    p.apply(read(numbers(200))).apply(parDo(slow), "Slow");
    await new DirectRunner().run(p, {
      maxPendingPerStep: 2,
      onStep: () => {
        maxAhead = Math.max(maxAhead, read_ - done);
      },
    });
    expect(done).toBe(200);
    // Between source events at most 2 writes are pending (the runner waits for the oldest before reading on); the
    // step that just ran may have added one.
    expect(maxAhead).toBeLessThanOrEqual(3);
    expect(maxAhead).toBeGreaterThanOrEqual(2);
  });

  it("without backpressure the same stream would run ahead (the bound above is the runner's doing)", async () => {
    let read_ = 0;
    let done = 0;
    let maxAhead = 0;
    const p = Pipeline.create();
    p.apply(read(numbers(200))).apply(
      parDo<number, never>({
        process() {
          read_++;
          return later(3).then(() => {
            done++;
          });
        },
      }),
      "Slow",
    );
    await new DirectRunner().run(p, {
      maxPendingPerStep: 1_000,
      onStep: () => {
        maxAhead = Math.max(maxAhead, read_ - done);
      },
    });
    expect(maxAhead).toBeGreaterThan(20);
  });
});

/** One key-value element, then the end of input. */
function oneKv(): TestStream<KV<string, number>> {
  return TestStream.create<KV<string, number>>()
    .addElements({ value: ["a", 1], timestamp: 1 })
    .advanceWatermarkToInfinity();
}

describe("DirectRunner: asynchronous stateful DoFns", () => {
  it("promises from process and onTimer are awaited, and a rejected onTimer fails the run naming the step and timer", async () => {
    const written: string[] = [];
    const fn = (failTimer: boolean) =>
      statefulParDo<string, number, never, { sum: ValueStateSpec<number> }, { flush: TimerSpec }>({
        state: { sum: valueState<number>() },
        timers: { flush: eventTimer() },
        async process([key, v], ctx) {
          ctx.state.sum.write((ctx.state.sum.read() ?? 0) + v);
          ctx.timers.flush.set(ctx.window.maxTimestamp);
          await later(2);
          written.push(`element ${key}=${v}`);
        },
        onTimer: {
          async flush(ctx) {
            const sum = ctx.state.sum.read();
            await later(2);
            if (failTimer) throw new Error("cannot write the sum");
            written.push(`sum ${ctx.key}=${sum}`);
          },
        },
      });
    const stream = TestStream.create<KV<string, number>>()
      .addElements(
        { value: ["a", 1], timestamp: 1 },
        { value: ["a", 2], timestamp: 2 },
        { value: ["b", 5], timestamp: 3 },
      )
      .advanceWatermarkToInfinity();
    const p = Pipeline.create();
    p.apply(read(stream)).apply(fn(false), "Sum");
    await new DirectRunner().run(p);
    expect(written.filter((w) => w.startsWith("element")).sort()).toEqual([
      "element a=1",
      "element a=2",
      "element b=5",
    ]);
    expect(written.filter((w) => w.startsWith("sum")).sort()).toEqual(["sum a=3", "sum b=5"]);

    const q = Pipeline.create();
    q.apply(read(stream)).apply(fn(true), "Sum");
    await expect(new DirectRunner().run(q)).rejects.toThrow('step "Sum" failed in onTimer.flush: cannot write the sum');
  });

  it("a stateful state access after an await is refused (its window may have expired meanwhile)", async () => {
    const p = Pipeline.create();
    p.apply(read(oneKv())).apply(
      statefulParDo<string, number, number, { n: ValueStateSpec<number> }>({
        state: { n: valueState<number>() },
        async process([, v], ctx) {
          await later(1);
          ctx.state.n.write(v);
        },
      }),
      "LateState",
    );
    await expect(new DirectRunner().run(p)).rejects.toThrow(
      /step "LateState" failed.*an output, state or timer was used after the call returned/,
    );
  });

  it("a stateful output after an await is refused", async () => {
    const p = Pipeline.create();
    p.apply(read(oneKv())).apply(
      statefulParDo<string, number, number>({
        async process([, v], ctx) {
          await later(1);
          ctx.output(v);
        },
      }),
      "Late",
    );
    await expect(new DirectRunner().run(p)).rejects.toThrow(
      /step "Late" failed.*an output, state or timer was used after the call returned/,
    );
  });
});
