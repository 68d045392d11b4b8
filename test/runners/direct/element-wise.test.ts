import { describe, expect, it } from "vitest";
import { PipelineBuildError } from "../../../core/errors.ts";
import type { KV } from "../../../core/kv.ts";
import { Pipeline } from "../../../core/pipeline.ts";
import { fixed, sessions } from "../../../core/windows/window-fn.ts";
import { IntervalWindow } from "../../../core/windows/window.ts";
import { DirectRunner } from "../../../runners/direct/direct-runner.ts";
import { StepError } from "../../../runners/fn/step-error.ts";
import { distinct } from "../../../transforms/distinct.ts";
import { filter, flatMap, map, withKeys, withTimestamps } from "../../../transforms/element-wise.ts";
import { flatten, flattenAll } from "../../../transforms/flatten.ts";
import { parDo } from "../../../transforms/par-do.ts";
import { partition } from "../../../transforms/partition.ts";
import { assertThat } from "../../../transforms/passert.ts";
import { create } from "../../../transforms/read.ts";
import { reshuffle } from "../../../transforms/reshuffle.ts";
import { window } from "../../../transforms/window-into.ts";

describe("DirectRunner: element-wise transforms", () => {
  it("map, flatMap and filter", async () => {
    const p = Pipeline.create();
    const words = p.apply(create(["a b", "c", "", "d e f"]));
    const tokens = assertThat(words.apply(flatMap((s: string) => s.split(" ").filter(Boolean))), "Tokens");
    const lengths = assertThat(words.apply(map((s: string) => s.length)), "Lengths");
    const nonEmpty = assertThat(words.apply(filter((s: string) => s.length > 0)), "NonEmpty");
    await new DirectRunner().run(p);
    tokens.everything().containsInAnyOrder("a", "b", "c", "d", "e", "f");
    lengths.everything().containsInAnyOrder(3, 1, 0, 5);
    nonEmpty.everything().containsInAnyOrder("a b", "c", "d e f");
  });

  it("a filter with a type guard narrows and keeps only matching elements", async () => {
    const p = Pipeline.create();
    const nums = assertThat(
      p.apply(create<string | number>([1, "x", 2, "y"])).apply(filter((v): v is number => typeof v === "number")),
    );
    await new DirectRunner().run(p);
    nums.everything().containsInAnyOrder(1, 2);
  });

  it("elements keep their timestamp and window through element-wise steps", async () => {
    const p = Pipeline.create();
    const out = assertThat(
      p
        .apply(create([3, 14]))
        .apply(withTimestamps((t: number) => t))
        .apply(window(fixed(10)))
        .apply(map((t: number) => t * 2))
        .apply(reshuffle())
        .apply(withKeys((v: number) => v % 2)),
    );
    await new DirectRunner().run(p);
    expect(out.all().map((e) => [e.value, e.timestamp, e.window.toString()])).toEqual(
      expect.arrayContaining([
        [[0, 6], 3, "[0, 10)"],
        [[0, 28], 14, "[10, 20)"],
      ]),
    );
    expect(out.all()).toHaveLength(2);
  });

  it("flatten merges PCollections", async () => {
    const p = Pipeline.create();
    const a = p.apply(create([1, 2]), "A");
    const b = p.apply(create([3]), "B");
    const c = p.apply(create([4, 5]), "C");
    const all = assertThat(flattenAll([a, b, c]), "All");
    const two = assertThat(p.applyTransform(flatten<number>("Two"), [a, b]), "TwoOut");
    await new DirectRunner().run(p);
    all.everything().containsInAnyOrder(1, 2, 3, 4, 5);
    two.everything().containsInAnyOrder(1, 2, 3);
  });

  it("flatten refuses inputs with different window functions", () => {
    const p = Pipeline.create();
    const a = p.apply(create([1]), "A").apply(window(fixed(10)), "W1");
    const b = p.apply(create([2]), "B").apply(window(sessions(10)), "W2");
    expect(() => flattenAll([a, b], "Mixed")).toThrow(PipelineBuildError);
    expect(() => flattenAll([a, b], "Mixed2")).toThrow(
      /^Mixed2: flattened PCollections must have the same window function/,
    );
  });

  it("partition splits by the function's index", async () => {
    const p = Pipeline.create();
    const parts = p.apply(create([1, 2, 3, 4, 5, 6, 7])).apply(partition(3, (v: number) => v % 3));
    const [zero, one, two] = parts.map((pc, i) => assertThat(pc, `Part${i}`));
    await new DirectRunner().run(p);
    zero?.everything().containsInAnyOrder(3, 6);
    one?.everything().containsInAnyOrder(1, 4, 7);
    two?.everything().containsInAnyOrder(2, 5);
    expect(parts).toHaveLength(3);
  });

  it("a partition index out of range fails the run with the index", async () => {
    const p = Pipeline.create();
    p.apply(create([1, 2])).apply(
      partition(2, (v: number) => v * 2),
      "Split",
    );
    const err = await new DirectRunner().run(p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as StepError).message).toMatch(/partition function returned \d, expected a whole number in \[0, 2\)/);
    expect((err as StepError).step).toBe("Split/ParDo");
  });

  it("partition refuses a count below one at build time", () => {
    const p = Pipeline.create();
    expect(() =>
      p.apply(create([1])).apply(
        partition(0, () => 0),
        "Split",
      ),
    ).toThrow(new PipelineBuildError("Split", "partition count must be a whole number of at least 1, got 0"));
  });

  it("distinct keeps one of each value per window, comparing by value", async () => {
    const p = Pipeline.create();
    const out = assertThat(
      p
        .apply(
          create([
            { a: 1, b: 2 },
            { b: 2, a: 1 },
            { a: 2, b: 2 },
            { a: 1, b: 2 },
          ]),
        )
        .apply(distinct<{ a: number; b: number }>()),
    );
    await new DirectRunner().run(p);
    out.everything().containsInAnyOrder({ a: 1, b: 2 }, { a: 2, b: 2 });
  });

  it("distinct works per window", async () => {
    const p = Pipeline.create();
    const out = assertThat(
      p
        .apply(create([1, 1, 2, 11, 12, 11]))
        .apply(withTimestamps((t: number) => t))
        .apply(window(fixed(10)))
        .apply(map((t: number) => t % 2))
        .apply(distinct<number>()),
    );
    await new DirectRunner().run(p);
    out.inOnTimePane([0, 10]).containsInAnyOrder(0, 1);
    out.inOnTimePane([10, 20]).containsInAnyOrder(0, 1);
  });
});

describe("DirectRunner: multi-output parDo", () => {
  interface Parsed {
    readonly n: number;
  }
  interface Bad {
    readonly raw: string;
    readonly error: string;
  }

  it("withOutputs gives the main output and each tagged output", async () => {
    const p = Pipeline.create();
    const outs = p.apply(create(["1", "x", "22", "", "3"])).apply(
      parDo<string, Parsed, { bad: Bad; empty: string }>({
        process(raw, ctx) {
          if (raw === "") ctx.outputTo("empty", raw);
          else if (Number.isNaN(Number(raw))) ctx.outputTo("bad", { raw, error: "not a number" });
          else ctx.output({ n: Number(raw) });
        },
      }).withOutputs("bad", "empty"),
      "Parse",
    );
    const parsed = assertThat(outs.main, "Parsed");
    const bad = assertThat(outs.bad, "Bad");
    const empty = assertThat(outs.empty, "Empty");
    await new DirectRunner().run(p);
    parsed.everything().containsInAnyOrder({ n: 1 }, { n: 22 }, { n: 3 });
    bad.everything().containsInAnyOrder({ raw: "x", error: "not a number" });
    empty.everything().containsInAnyOrder("");
  });

  it("a tagged output can set a later timestamp", async () => {
    const p = Pipeline.create();
    const outs = p
      .apply(create([5]))
      .apply(withTimestamps((t: number) => t))
      .apply(
        parDo<number, number, { later: number }>({
          process(v, ctx) {
            ctx.outputTo("later", v, ctx.timestamp + 100);
          },
        }).withOutputs("later"),
      );
    const later = assertThat(outs.later);
    await new DirectRunner().run(p);
    expect(later.all().map((e) => e.timestamp)).toEqual([105]);
  });

  it("outputting to an undeclared tag fails the run, saying how to declare it", async () => {
    const p = Pipeline.create();
    p.apply(create([1])).apply(
      parDo<number, number, { extra: number }>({
        process(v, ctx) {
          ctx.outputTo("extra", v);
        },
      }),
      "Undeclared",
    );
    const err = await new DirectRunner().run(p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as Error).message).toMatch(
      /output tag "extra" was not declared; declare it with parDo\(fn\)\.withOutputs\("extra"/,
    );
  });

  it("refuses the reserved tag main and duplicate tags at build time", () => {
    const p = Pipeline.create();
    const xs = p.apply(create([1]));
    const fn = parDo<number, number, { main: number; a: number }>({ process() {} });
    expect(() => xs.apply(fn.withOutputs("main"), "M")).toThrow(
      new PipelineBuildError("M", 'output tag "main" is reserved'),
    );
    expect(() => xs.apply(fn.withOutputs("a", "a"), "D")).toThrow(/^D: output tags must be distinct, got a, a$/);
  });

  it("finishBundle can output with an explicit timestamp and window", async () => {
    const p = Pipeline.create();
    const w = new IntervalWindow(0, 100);
    const out = assertThat(
      p.apply(create([1, 2, 3])).apply(
        parDo<number, number>({
          process() {},
          finishBundle(ctx) {
            ctx.output(42, 50, w);
          },
        }),
      ),
    );
    await new DirectRunner().run(p);
    expect(out.all().map((e) => [e.value, e.timestamp, e.window.toString()])).toEqual([[42, 50, "[0, 100)"]]);
  });

  it("grouping after a multi-output step groups each output on its own", async () => {
    const p = Pipeline.create();
    const outs = p.apply(create([1, 2, 3, 4])).apply(
      parDo<number, KV<string, number>, { odd: KV<string, number> }>({
        process(v, ctx) {
          if (v % 2) ctx.outputTo("odd", ["odd", v]);
          else ctx.output(["even", v]);
        },
      }).withOutputs("odd"),
    );
    const evens = assertThat(outs.main.apply(map(([k, v]: KV<string, number>) => `${k}${v}`)), "Evens");
    const odds = assertThat(outs.odd.apply(map(([k, v]: KV<string, number>) => `${k}${v}`)), "Odds");
    await new DirectRunner().run(p);
    evens.everything().containsInAnyOrder("even2", "even4");
    odds.everything().containsInAnyOrder("odd1", "odd3");
  });
});
