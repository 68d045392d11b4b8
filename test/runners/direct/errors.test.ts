import { describe, expect, it } from "vitest";
import type { CombineFn } from "../../../core/combine-fn.ts";
import type { KV } from "../../../core/kv.ts";
import type { PCollection } from "../../../core/pcollection.ts";
import type { PTransform } from "../../../core/ptransform.ts";
import { Pipeline } from "../../../core/pipeline.ts";
import type { Primitive } from "../../../core/primitives.ts";
import { afterAny, afterCount } from "../../../core/triggers/trigger.ts";
import { fixed, sessions } from "../../../core/windows/window-fn.ts";
import { IntervalWindow } from "../../../core/windows/window.ts";
import { TestStream } from "../../../io/test-stream/test-stream.ts";
import { DirectRunner } from "../../../runners/direct/direct-runner.ts";
import { StepError } from "../../../runners/fn/step-error.ts";
import { combinePerKey } from "../../../transforms/combine.ts";
import { map, withTimestamps } from "../../../transforms/element-wise.ts";
import { groupByKey } from "../../../transforms/group-by-key.ts";
import { parDo } from "../../../transforms/par-do.ts";
import { assertThat } from "../../../transforms/passert.ts";
import { read } from "../../../transforms/read.ts";
import { window } from "../../../transforms/window-into.ts";

async function runError(p: Pipeline): Promise<StepError> {
  const err = await new DirectRunner().run(p).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StepError);
  return err as StepError;
}

const windowed = (p: Pipeline, ...ts: number[]) =>
  p
    .apply(read(TestStream.create<number>().addElements(...ts.map((t) => ({ value: t, timestamp: t })))))
    .apply(window(fixed(10)));

describe("DirectRunner: failures", () => {
  it("an exception in a DoFn fails the run with a StepError: step, timestamp, window, and the error as cause", async () => {
    const p = Pipeline.create();
    const boom = new TypeError("cannot read the price");
    windowed(p, 3, 14).apply(
      parDo<number, number>({
        process(v) {
          if (v === 14) throw boom;
        },
      }),
      "Price",
    );
    const err = await runError(p);
    expect(err.step).toBe("Price");
    expect(err.timestamp).toBe(14);
    expect(err.window).toEqual(new IntervalWindow(10, 20));
    expect(err.cause).toBe(boom);
    expect(err.message).toBe(
      'step "Price" failed processing an element at timestamp 1970-01-01T00:00:00.014Z (14) in window [10, 20): cannot read the price',
    );
  });

  it("a failure in a nested step names its full path", async () => {
    const p = Pipeline.create();
    windowed(p, 1).apply({
      name: "Enrich",
      expand: (pc) =>
        pc.apply(
          map((): number => {
            throw new Error("lookup failed");
          }, "Lookup"),
        ),
    });
    const err = await runError(p);
    expect(err.step).toBe("Enrich/Lookup");
    expect((err.cause as Error).message).toBe("lookup failed");
  });

  it("a non-Error thrown value is kept as the cause", async () => {
    const p = Pipeline.create();
    windowed(p, 1).apply(
      map((): number => {
        throw "plain string";
      }, "Throws"),
    );
    const err = await runError(p);
    expect(err.cause).toBe("plain string");
    expect(err.message).toMatch(/: plain string$/);
  });

  it("outputWithTimestamp moving back beyond the allowed skew fails with step, timestamp, window and the reason", async () => {
    const p = Pipeline.create();
    windowed(p, 15).apply(
      parDo<number, number>({
        process(v, ctx) {
          ctx.outputWithTimestamp(v, ctx.timestamp - 5);
        },
      }),
      "Backdate",
    );
    const err = await runError(p);
    expect(err.step).toBe("Backdate");
    expect(err.timestamp).toBe(15);
    expect(err.window?.toString()).toBe("[10, 20)");
    expect(err.cause).toBeInstanceOf(RangeError);
    expect(err.message).toContain(
      'step "Backdate" failed processing an element at timestamp 1970-01-01T00:00:00.015Z (15) in window [10, 20)',
    );
    expect(err.message).toContain(
      "cannot output with timestamp 1970-01-01T00:00:00.010Z (10): it is 5 ms before the input's timestamp " +
        "1970-01-01T00:00:00.015Z (15), more than the allowed skew of 0 ms",
    );
  });

  it("outputWithTimestamp within the allowed skew, or forwards, is accepted", async () => {
    const p = Pipeline.create();
    const out = assertThat(
      windowed(p, 15).apply(
        parDo<number, number>({
          allowedTimestampSkewMs: 5,
          process(v, ctx) {
            ctx.outputWithTimestamp(v, ctx.timestamp - 5);
            ctx.outputWithTimestamp(v, ctx.timestamp + 1_000);
          },
        }),
      ),
    );
    await new DirectRunner().run(p);
    expect(out.all().map((e) => e.timestamp)).toEqual([10, 1_015]);
  });

  it("withTimestamps allows any skew by default, and fails on a non-integer time", async () => {
    const p = Pipeline.create();
    const out = assertThat(windowed(p, 50).apply(withTimestamps((v: number) => v - 40)));
    await new DirectRunner().run(p);
    expect(out.all().map((e) => e.timestamp)).toEqual([10]);

    const q = Pipeline.create();
    windowed(q, 50).apply(
      withTimestamps((v: number) => v + 0.5),
      "Stamp",
    );
    const err = await runError(q);
    expect(err.message).toMatch(/output timestamp 50.5 is not a whole number of epoch milliseconds/);
  });

  it("grouping a non-KV element fails with a clear message naming the grouping", async () => {
    const p = Pipeline.create();
    windowed(p, 3)
      .apply(map((v: number) => ({ id: v }) as unknown as KV<string, number>, "NotAPair"))
      .apply(groupByKey<string, number>(), "Group");
    const err = await runError(p);
    expect(err.step).toBe("Group");
    expect(err.message).toContain('grouping needs key-value pairs [key, value], got {"id":3}');
    expect(err.cause).toBeInstanceOf(TypeError);
  });

  it("grouping a non-KV element in session windows fails the same way", async () => {
    const p = Pipeline.create();
    p.apply(read(TestStream.create<number>().addElements({ value: 3, timestamp: 3 })))
      .apply(window(sessions(10)))
      .apply(groupByKey<string, number>() as unknown as PTransform<PCollection<number>, unknown>, "Group");
    const err = await runError(p);
    expect(err.step).toBe("Group");
    expect(err.message).toContain("grouping needs key-value pairs [key, value], got 3");
  });

  it("an exception in a DoFn after a grouping names that DoFn and the pane's timestamp and window", async () => {
    const p = Pipeline.create();
    windowed(p, 3)
      .apply(map((v: number): KV<string, number> => ["k", v], "Key"))
      .apply(groupByKey<string, number>())
      .apply(
        map((): number => {
          throw new Error("cannot format");
        }, "Format"),
      );
    const err = await runError(p);
    expect(err.step).toBe("Format");
    expect(err.timestamp).toBe(9);
    expect(err.window?.toString()).toBe("[0, 10)");
  });

  describe("an exception in a CombineFn fails the run with a StepError naming the combining step", () => {
    const failing = (where: "add" | "extract"): CombineFn<number, number, number> => ({
      createAccumulator: () => 0,
      addInput: (a, v) => {
        if (where === "add") throw new Error("bad input");
        return a + v;
      },
      mergeAccumulators: (as) => as.reduce((x, y) => x + y, 0),
      extractOutput: (a) => {
        if (where === "extract") throw new Error("bad output");
        return a;
      },
    });

    it("in addInput, right after windowing", async () => {
      const p = Pipeline.create();
      p.apply(read(TestStream.create<KV<string, number>>().addElements({ value: ["k", 3], timestamp: 3 })))
        .apply(window(fixed(10)))
        .apply(combinePerKey<string, number, number, number>(failing("add")), "Sum");
      const err = await runError(p);
      expect(err.step).toBe("Sum");
      expect(err.timestamp).toBe(3);
      expect(err.window?.toString()).toBe("[0, 10)");
      expect((err.cause as Error).message).toBe("bad input");
    });

    it("in addInput, after a DoFn (the DoFn is not blamed)", async () => {
      const p = Pipeline.create();
      windowed(p, 4)
        .apply(map((v: number): KV<string, number> => ["k", v], "Key"))
        .apply(combinePerKey<string, number, number, number>(failing("add")), "Sum");
      const err = await runError(p);
      expect(err.step).toBe("Sum");
      expect(err.window?.toString()).toBe("[0, 10)");
    });

    it("in extractOutput, when the pane fires", async () => {
      const p = Pipeline.create();
      windowed(p, 4)
        .apply(map((v: number): KV<string, number> => ["k", v], "Key"))
        .apply(combinePerKey<string, number, number, number>(failing("extract")), "Sum");
      const err = await runError(p);
      expect(err.step).toBe("Sum");
      expect(err.message).toMatch(/emitting a pane.*\[0, 10\).*bad output/);
      expect(err.timestamp).toBe(9);
    });
  });

  it("run() reports a pipeline it cannot execute through its promise, not by throwing", async () => {
    const p = Pipeline.create();
    const input = windowed(p, 1);
    // A primitive the direct runner does not know: planning the run fails.
    input.apply({
      name: "Alien",
      expand: (pc: PCollection<number>) =>
        pc.pipeline.applyPrimitive({ kind: "alien" } as unknown as Primitive, [pc as PCollection<unknown>], {
          main: { windowing: pc.windowing, bounded: pc.bounded },
        }),
    });
    let promise: Promise<unknown> | undefined;
    expect(() => {
      promise = new DirectRunner().run(p);
    }).not.toThrow();
    await expect(promise).rejects.toThrow(/alien/);
  });

  it("a trigger the engine cannot hold fails when the pipeline is built, naming the transform", () => {
    const p = Pipeline.create();
    expect(() =>
      windowed(p, 1)
        .apply(map((v: number): KV<string, number> => ["k", v], "Key"))
        .apply(window(fixed(10), { trigger: afterAny(...Array.from({ length: 40 }, () => afterCount(1))) }), "Huge"),
    ).toThrow(/Huge.*41 nodes/);
  });

  it("a failing run rejects waitUntilFinish of a started run too", async () => {
    const p = Pipeline.create();
    windowed(p, 1).apply(
      map((): number => {
        throw new Error("x");
      }, "Fail"),
    );
    await expect(new DirectRunner().start(p).waitUntilFinish()).rejects.toBeInstanceOf(StepError);
  });
});
