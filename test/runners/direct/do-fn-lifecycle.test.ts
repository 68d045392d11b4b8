import { describe, expect, it } from "vitest";
import type { DoFn } from "../../../core/do-fn.ts";
import type { KV } from "../../../core/kv.ts";
import { Pipeline } from "../../../core/pipeline.ts";
import { afterCount, repeatedly } from "../../../core/triggers/trigger.ts";
import { globalWindows } from "../../../core/windows/window-fn.ts";
import { GLOBAL_WINDOW } from "../../../core/windows/window.ts";
import { TestStream } from "../../../io/test-stream/test-stream.ts";
import { DirectRunner } from "../../../runners/direct/direct-runner.ts";
import { StepError } from "../../../runners/fn/step-error.ts";
import { count } from "../../../transforms/combine.ts";
import { parDo } from "../../../transforms/par-do.ts";
import { create, read } from "../../../transforms/read.ts";
import { window } from "../../../transforms/window-into.ts";

/** A DoFn that logs its lifecycle calls. */
function logging<T>(log: string[], overrides: Partial<DoFn<T, T>> = {}): DoFn<T, T> {
  return {
    setup: () => log.push("setup"),
    startBundle: () => log.push("startBundle"),
    process(v, ctx) {
      log.push(`process ${JSON.stringify(v)}`);
      ctx.output(v);
    },
    finishBundle: () => {
      log.push("finishBundle");
    },
    teardown: () => log.push("teardown"),
    ...overrides,
  };
}

const stream = TestStream.create<number>()
  .addElements({ value: 1, timestamp: 1 }, { value: 2, timestamp: 2 })
  .advanceWatermarkTo(5)
  .addElements({ value: 3, timestamp: 6 });

describe("DirectRunner: DoFn lifecycle", () => {
  it("setup once, startBundle/process/finishBundle around each bundle, teardown once at the end", async () => {
    const log: string[] = [];
    const p = Pipeline.create();
    p.apply(read(stream)).apply(parDo(logging<number>(log)));
    await new DirectRunner().run(p);
    expect(log).toEqual([
      "setup",
      "startBundle",
      "process 1",
      "process 2",
      "finishBundle",
      "startBundle",
      "process 3",
      "finishBundle",
      "teardown",
    ]);
  });

  it("after a grouping, each batch of panes is a bundle", async () => {
    const log: string[] = [];
    const p = Pipeline.create();
    p.apply(
      read(
        TestStream.create<KV<string, number>>()
          .addElements({ value: ["a", 1], timestamp: 1 }, { value: ["b", 1], timestamp: 1 })
          .addElements({ value: ["a", 2], timestamp: 2 }),
      ),
    )
      .apply(window(globalWindows(), { trigger: repeatedly(afterCount(1)) }))
      .apply(count.perKey<string>())
      .apply(parDo(logging<KV<string, number>>(log)));
    await new DirectRunner().run(p);
    expect(log[0]).toBe("setup");
    expect(log.at(-1)).toBe("teardown");
    const bundles = log.slice(1, -1).join(" | ").split("startBundle | ").filter(Boolean);
    expect(bundles).toEqual([
      expect.stringMatching(/^process \["[ab]",1\] \| process \["[ab]",1\] \| finishBundle/),
      expect.stringMatching(/^process \["a",1\] \| finishBundle/),
      expect.stringMatching(/^process \["[ab]",0\] \| process \["[ab]",0\] \| finishBundle$/),
    ]);
  });

  it("a DoFn that gets no elements is set up and torn down, but starts no bundle", async () => {
    const log: string[] = [];
    const p = Pipeline.create();
    p.apply(create<number>([])).apply(parDo(logging<number>(log)));
    await new DirectRunner().run(p);
    expect(log).toEqual(["setup", "teardown"]);
  });

  it("teardown runs even when processing fails", async () => {
    const log: string[] = [];
    const p = Pipeline.create();
    p.apply(read(stream)).apply(
      parDo(
        logging<number>(log, {
          process(v) {
            log.push(`process ${v}`);
            throw new Error("boom");
          },
        }),
      ),
    );
    await expect(new DirectRunner().run(p)).rejects.toThrow(StepError);
    expect(log).toEqual(["setup", "startBundle", "process 1", "teardown"]);
  });

  it("a failing setup fails the run with a StepError naming the step and the phase", async () => {
    const p = Pipeline.create();
    p.apply(create([1])).apply(
      parDo<number, number>({
        setup() {
          throw new Error("no connection");
        },
        process() {},
      }),
      "Connect",
    );
    const err = await new DirectRunner().run(p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as StepError).message).toBe('step "Connect" failed in setup: no connection');
  });

  it("when one DoFn's setup fails, the DoFns already set up are torn down", async () => {
    const log: string[] = [];
    const p = Pipeline.create();
    p.apply(create([1]))
      .apply(parDo(logging<number>(log)), "First")
      .apply(
        parDo<number, number>({
          setup() {
            throw new Error("no connection");
          },
          process() {},
        }),
        "Second",
      );
    await expect(new DirectRunner().run(p)).rejects.toThrow(/Second.*no connection/);
    expect(log).toEqual(["setup", "teardown"]);
  });

  it("a failing finishBundle fails the run with a StepError naming the phase", async () => {
    const p = Pipeline.create();
    p.apply(create([1])).apply(
      parDo<number, number>({
        process() {},
        finishBundle() {
          throw new Error("flush failed");
        },
      }),
      "Flush",
    );
    await expect(new DirectRunner().run(p)).rejects.toThrow('step "Flush" failed in finishBundle: flush failed');
  });

  it("outputs from an upstream finishBundle form a bundle of their own downstream", async () => {
    const log: string[] = [];
    const p = Pipeline.create();
    p.apply(read(stream))
      .apply(
        parDo<number, number>({
          process() {},
          finishBundle(ctx) {
            ctx.output(100, 0, GLOBAL_WINDOW);
          },
        }),
        "Batch",
      )
      .apply(parDo(logging<number>(log)), "Log");
    await new DirectRunner().run(p);
    expect(log).toEqual([
      "setup",
      "startBundle",
      "process 100",
      "finishBundle",
      "startBundle",
      "process 100",
      "finishBundle",
      "teardown",
    ]);
  });

  it("an element in several windows is processed once per window", async () => {
    const seen: string[] = [];
    const p = Pipeline.create();
    p.apply(read(TestStream.create<number>().addElements({ value: 7, timestamp: 7 })))
      .apply(window({ kind: "sliding", sizeMs: 10, periodMs: 5, offsetMs: 0 }))
      .apply(
        parDo<number, never>({
          process(v, ctx) {
            seen.push(`${v} in ${ctx.window}`);
          },
        }),
      );
    await new DirectRunner().run(p);
    expect(seen.sort()).toEqual(["7 in [0, 10)", "7 in [5, 15)"]);
  });
});
