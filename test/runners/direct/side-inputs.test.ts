import { describe, expect, it } from "vitest";
import type { KV } from "../../../core/kv.ts";
import { Pipeline } from "../../../core/pipeline.ts";
import { afterCount, repeatedly } from "../../../core/triggers/trigger.ts";
import { fixed, globalWindows, sessions } from "../../../core/windows/window-fn.ts";
import { TestStream } from "../../../io/test-stream/test-stream.ts";
import { DirectRunner } from "../../../runners/direct/direct-runner.ts";
import { StepError } from "../../../runners/fn/step-error.ts";
import { combineGlobally, latestFn, sumFn } from "../../../transforms/combine.ts";
import { filter, map } from "../../../transforms/element-wise.ts";
import { parDo } from "../../../transforms/par-do.ts";
import { assertThat } from "../../../transforms/passert.ts";
import { create, read } from "../../../transforms/read.ts";
import { asIterable, asList, asMap, asMultimap, asSingleton } from "../../../transforms/side-inputs.ts";
import { window } from "../../../transforms/window-into.ts";

type Msg = { readonly side: boolean; readonly v: number };
const side = (v: number, timestamp: number) => ({ value: { side: true, v } as Msg, timestamp });
const main = (v: number, timestamp: number) => ({ value: { side: false, v } as Msg, timestamp });

/** Splits one scripted stream into a main and a side PCollection, so their relative order is exact. */
function split(p: Pipeline, stream: TestStream<Msg>) {
  const all = p.apply(read(stream));
  return {
    main: all.apply(filter((m: Msg) => !m.side, "Main")).apply(map((m: Msg) => m.v, "MainV")),
    side: all.apply(filter((m: Msg) => m.side, "Side")).apply(map((m: Msg) => m.v, "SideV")),
  };
}

describe("side inputs", () => {
  it("singleton, iterable, list and map views of bounded inputs in the global window", async () => {
    const p = Pipeline.create();
    const total = p
      .apply(create([1, 2, 3, 4]), "Numbers")
      .apply(combineGlobally(sumFn))
      .apply(asSingleton<number>());
    const all = p.apply(create([10, 20]), "Tens").apply(asIterable<number>());
    const list = p.apply(create(["x", "y"]), "Letters").apply(asList<string>());
    const names = p
      .apply(
        create<KV<number, string>>([
          [1, "one"],
          [2, "two"],
        ]),
        "Names",
      )
      .apply(asMap<number, string>());
    const out = assertThat(
      p.apply(create([1, 2]), "Main").apply(
        parDo<number, string>({
          process(v, ctx) {
            const tens = [...ctx.sideInput(all)].reduce((a, b) => a + b, 0);
            ctx.output(
              `${ctx.sideInput(names).get(v)}: ${v}/${ctx.sideInput(total)} tens=${tens} ${ctx.sideInput(list).join("")}`,
            );
          },
        }).withSideInputs(total, all, list, names),
      ),
    );
    await new DirectRunner().run(p);
    out.everything().containsInAnyOrder("one: 1/10 tens=30 xy", "two: 2/10 tens=30 xy");
  });

  it("a multimap view keeps every value of a key", async () => {
    const p = Pipeline.create();
    const tags = p
      .apply(
        create<KV<string, string>>([
          ["a", "x"],
          ["b", "y"],
          ["a", "z"],
        ]),
        "Tags",
      )
      .apply(asMultimap<string, string>());
    const out = assertThat(
      p.apply(create(["a", "b", "c"]), "Main").apply(
        parDo<string, string>({
          process(k, ctx) {
            ctx.output(`${k}=${[...(ctx.sideInput(tags).get(k) ?? [])].sort().join(",")}`);
          },
        }).withSideInputs(tags),
      ),
    );
    await new DirectRunner().run(p);
    out.everything().containsInAnyOrder("a=x,z", "b=y", "c=");
  });

  it("windowed: a main element waits until its window's side input is ready, and reads the matching window", async () => {
    const stream = TestStream.create<Msg>()
      .addElements(main(5, 5), main(15, 15)) // side inputs for [0,10) and [10,20) are not ready
      .addElements(side(100, 1)) // arrives, but [0,10)'s side pane fires only when the side watermark passes 10
      .advanceWatermarkTo(25) // [0,10) fires with 100; [10,20) is complete and empty: default -1
      .advanceWatermarkToInfinity();
    const p = Pipeline.create();
    const { main: m, side: s } = split(p, stream);
    const rate = s.apply(window<number>(fixed(10)), "WindowSide").apply(asSingleton<number>({ defaultValue: -1 }));
    const out = assertThat(
      m.apply(window<number>(fixed(10)), "WindowMain").apply(
        parDo<number, string>({
          process(v, ctx) {
            ctx.output(`${v}@${ctx.window}:${ctx.sideInput(rate)}`);
          },
        }).withSideInputs(rate),
      ),
    );
    const order: string[] = [];
    await new DirectRunner().run(p, { onStep: ({ index }) => order.push(`${index}:${out.all().length}`) });
    out.everything().containsInAnyOrder("5@[0, 10):100", "15@[10, 20):-1");
    expect(order.slice(0, 3)).toEqual(["0:0", "1:0", "2:2"]);
  });

  it("a triggered side input is ready as soon as its first pane fires", async () => {
    const stream = TestStream.create<Msg>()
      .addElements(main(5, 5))
      .addElements(side(100, 1)) // the side input's pane fires on arrival: 5 goes on
      .advanceWatermarkToInfinity();
    const p = Pipeline.create();
    const { main: m, side: s } = split(p, stream);
    const rate = s
      .apply(
        window<number>(fixed(10), { trigger: repeatedly(afterCount(1)), accumulation: "accumulating" }),
        "WindowSide",
      )
      .apply(asSingleton<number>());
    const out = assertThat(
      m.apply(window<number>(fixed(10)), "WindowMain").apply(
        parDo<number, string>({
          process(v, ctx) {
            ctx.output(`${v}:${ctx.sideInput(rate)}`);
          },
        }).withSideInputs(rate),
      ),
    );
    const order: number[] = [];
    await new DirectRunner().run(p, { onStep: () => order.push(out.all().length) });
    out.everything().containsInAnyOrder("5:100");
    expect(order.slice(0, 2)).toEqual([0, 1]);
  });

  it("an updating side input: each new pane of a triggered global side input replaces the last", async () => {
    const stream = TestStream.create<Msg>()
      .addElements(side(1, 1))
      .addElements(main(10, 2))
      .addElements(side(2, 3))
      .addElements(main(20, 4))
      .advanceWatermarkToInfinity();
    const p = Pipeline.create();
    const { main: m, side: s } = split(p, stream);
    const config = s
      .apply(window<number>(globalWindows(), { trigger: repeatedly(afterCount(1)), accumulation: "discarding" }))
      .apply(map((v: number) => ({ value: v, timestamp: v }), "Stamp"))
      .apply(combineGlobally(latestFn<number>()))
      .apply(asSingleton<number | undefined>());
    const out = assertThat(
      m.apply(
        parDo<number, string>({
          process(v, ctx) {
            ctx.output(`${v} with config ${ctx.sideInput(config)}`);
          },
        }).withSideInputs(config),
      ),
    );
    await new DirectRunner().run(p);
    out.everything().containsInAnyOrder("10 with config 1", "20 with config 2");
  });

  it("a singleton with several values, or empty without a default, fails clearly", async () => {
    const p = Pipeline.create();
    const many = p.apply(create([1, 2]), "Many").apply(asSingleton<number>());
    p.apply(create([0]), "Main").apply(
      parDo<number, number>({
        process(_, ctx) {
          ctx.output(ctx.sideInput(many));
        },
      }).withSideInputs(many),
      "Reader",
    );
    const err = await new DirectRunner().run(p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as Error).message).toMatch(/Reader.*singleton side input .* has 2 values in window GlobalWindow/);

    const q = Pipeline.create();
    const none = q.apply(create<number>([]), "None").apply(asSingleton<number>());
    q.apply(create([0]), "Main").apply(
      parDo<number, number>({
        process(_, ctx) {
          ctx.output(ctx.sideInput(none));
        },
      }).withSideInputs(none),
    );
    await expect(new DirectRunner().run(q)).rejects.toThrow(/is empty in window GlobalWindow and has no default value/);
  });

  it("reading an undeclared side input fails, naming how to declare it; session-windowed side inputs are refused at build", async () => {
    const p = Pipeline.create();
    const v = p.apply(create([1]), "Side").apply(asSingleton<number>());
    p.apply(create([0]), "Main").apply(
      parDo<number, number>({
        process(_, ctx) {
          ctx.output(ctx.sideInput(v));
        },
      }),
    );
    await expect(new DirectRunner().run(p)).rejects.toThrow(
      /was not declared; declare it with parDo\(fn\)\.withSideInputs\(view\)/,
    );

    const q = Pipeline.create();
    const s = q.apply(create([1]), "Side").apply(window<number>(sessions(10)));
    expect(() => s.apply(asSingleton<number>(), "View")).toThrow(/View: session windows cannot be a side input/);
  });
});
