import { describe, expectTypeOf, it } from "vitest";
// The public API, as a user imports it.
import {
  assertThat,
  combinePerKey,
  count,
  create,
  filter,
  flatMap,
  flattenAll,
  groupByKey,
  type KV,
  latest,
  map,
  mean,
  type PAssertion,
  type PCollection,
  Pipeline,
  parDo,
  partition,
  sum,
  top,
  withKeys,
} from "../../index.ts";

interface Event {
  readonly user: string;
  readonly ms: number;
}
interface BadMessage {
  readonly raw: string;
  readonly reason: string;
}

const p = Pipeline.create();
const lines = p.apply(create(["a", "b"]));
const events = p.apply(create<Event>([{ user: "u", ms: 1 }]));

describe("element types flow through transforms", () => {
  it("create gives PCollection<T>", () => {
    expectTypeOf(lines).toEqualTypeOf<PCollection<string>>();
    expectTypeOf(events).toEqualTypeOf<PCollection<Event>>();
  });

  it("map, flatMap, filter and withKeys", () => {
    expectTypeOf(lines.apply(map((s: string) => s.length))).toEqualTypeOf<PCollection<number>>();
    expectTypeOf(lines.apply(flatMap((s: string) => s.split("")))).toEqualTypeOf<PCollection<string>>();
    expectTypeOf(events.apply(filter((e: Event) => e.ms > 0))).toEqualTypeOf<PCollection<Event>>();
    const mixed = p.apply(create<string | number>([1, "x"]));
    expectTypeOf(mixed.apply(filter((v): v is number => typeof v === "number"))).toEqualTypeOf<PCollection<number>>();
    expectTypeOf(events.apply(withKeys((e: Event) => e.user))).toEqualTypeOf<PCollection<readonly [string, Event]>>();
  });

  it("groupByKey turns KV<K, V> into KV<K, V[]>", () => {
    const keyed = events.apply(map((e: Event): KV<string, number> => [e.user, e.ms]));
    const grouped = keyed.apply(groupByKey<string, number>());
    expectTypeOf(grouped).toEqualTypeOf<PCollection<KV<string, number[]>>>();
    expectTypeOf(grouped.apply(map(([k, vs]: KV<string, number[]>) => `${k}:${vs.length}`))).toEqualTypeOf<
      PCollection<string>
    >();
  });

  it("combinePerKey gives the CombineFn's output type per key", () => {
    const keyed = events.apply(map((e: Event): KV<string, number> => [e.user, e.ms]));
    expectTypeOf(
      keyed.apply(
        combinePerKey<string, number, number[], string>({
          createAccumulator: () => [],
          addInput: (a, v) => [...a, v],
          mergeAccumulators: (as) => as.flat(),
          extractOutput: (a) => a.join(","),
        }),
      ),
    ).toEqualTypeOf<PCollection<KV<string, string>>>();
    expectTypeOf(keyed.apply(sum.perKey<string>())).toEqualTypeOf<PCollection<KV<string, number>>>();
    expectTypeOf(keyed.apply(count.perKey<string>())).toEqualTypeOf<PCollection<KV<string, number>>>();
    expectTypeOf(keyed.apply(mean.perKey<string>())).toEqualTypeOf<PCollection<KV<string, number>>>();
    expectTypeOf(keyed.apply(latest.perKey<string, number>())).toEqualTypeOf<
      PCollection<KV<string, number | undefined>>
    >();
    expectTypeOf(lines.apply(count.perElement<string>())).toEqualTypeOf<PCollection<KV<string, number>>>();
    const ms = events.apply(map((e: Event) => e.ms));
    expectTypeOf(ms.apply(top.largest(3).globally())).toEqualTypeOf<PCollection<number[]>>();
  });

  it("flatten, partition and PAssert keep the element type", () => {
    expectTypeOf(flattenAll([lines, lines])).toEqualTypeOf<PCollection<string>>();
    expectTypeOf(lines.apply(partition(2, () => 0))).toEqualTypeOf<PCollection<string>[]>();
    expectTypeOf(assertThat(events)).toEqualTypeOf<PAssertion<Event>>();
  });

  it("inside a multi-output DoFn, the main output and each tag take their own element type", () => {
    const outs = lines.apply(
      parDo<string, Event, { deadLetter: BadMessage; count: number }>({
        process(raw, ctx) {
          expectTypeOf(ctx.element).toEqualTypeOf<string>();
          if (raw === "") ctx.outputTo("deadLetter", { raw, reason: "empty" });
          else ctx.output({ user: raw, ms: 0 });
          ctx.outputTo("count", 1);
          // @ts-expect-error: the tag's element type is BadMessage, not string
          ctx.outputTo("deadLetter", "oops");
          // @ts-expect-error: an undeclared tag
          ctx.outputTo("missing", 1);
          // @ts-expect-error: the main output is Event
          ctx.output("not an event");
        },
      }).withOutputs("deadLetter", "count"),
    );
    expectTypeOf(outs.main).toEqualTypeOf<PCollection<Event>>();
    // @ts-expect-error: no such output
    outs.other;
    // @ts-expect-error: a tag that is not one of the DoFn's tags
    parDo<string, Event, { deadLetter: BadMessage }>({ process() {} }).withOutputs("typo");
  });

  it("a multi-output ParDo gives typed tagged outputs", () => {
    const outs = lines.apply(
      parDo<string, Event, { deadLetter: BadMessage; count: number }>({
        process(raw, ctx) {
          expectTypeOf(ctx.element).toEqualTypeOf<string>();
          if (raw === "") ctx.outputTo("deadLetter", { raw, reason: "empty" });
          else ctx.output({ user: raw, ms: 0 });
          ctx.outputTo("count", 1);
          // @ts-expect-error: the tag's element type is BadMessage, not string
          ctx.outputTo("deadLetter", "oops");
          // @ts-expect-error: an undeclared tag
          ctx.outputTo("missing", 1);
          // @ts-expect-error: the main output is Event
          ctx.output("not an event");
        },
      }).withOutputs("deadLetter", "count"),
    );
    expectTypeOf(outs.main).toEqualTypeOf<PCollection<Event>>();
    expectTypeOf(outs.deadLetter).toEqualTypeOf<PCollection<BadMessage>>();
    expectTypeOf(outs.count).toEqualTypeOf<PCollection<number>>();
    // @ts-expect-error: the deadLetter output holds BadMessage, not string
    const wrongElement: PCollection<string> = outs.deadLetter;
    // @ts-expect-error: no such output
    outs.other;
    expectTypeOf(wrongElement).not.toBeNever();
  });

  it("only the declared tags are outputs", () => {
    const fn = parDo<string, Event, { deadLetter: BadMessage; count: number }>({ process() {} });
    // @ts-expect-error: a tag that is not one of the DoFn's tags
    fn.withOutputs("typo");
    const outs = lines.apply(fn.withOutputs("deadLetter"));
    // @ts-expect-error: "count" was not passed to withOutputs, so there is no such output at run time
    outs.count;
    expectTypeOf(outs).toHaveProperty("deadLetter");
  });
});

describe("misuse is a compile error", () => {
  it("groupByKey on a PCollection that is not of KV pairs", () => {
    // @ts-expect-error: string is not KV<K, V>
    lines.apply(groupByKey<string, number>());
    // @ts-expect-error: KV<string, number> does not match KV<string, string>
    events.apply(map((e: Event): KV<string, number> => [e.user, e.ms])).apply(groupByKey<string, string>());
  });

  it("combinePerKey and sum on non-KV or non-number values", () => {
    // @ts-expect-error: Event is not a KV
    events.apply(sum.perKey<string>());
    const keyedStrings = lines.apply(map((s: string): KV<string, string> => [s, s]));
    // @ts-expect-error: sum needs number values
    keyedStrings.apply(sum.perKey<string>());
  });

  it("map with a function of the wrong input type", () => {
    // @ts-expect-error: the function takes a number, the elements are strings
    lines.apply(map((n: number) => n + 1));
    // @ts-expect-error: Event has no `length`
    events.apply(map((e: { length: number }) => e.length));
  });

  it("a transform's output type cannot be widened into another element type", () => {
    // @ts-expect-error: PCollection<number> is not PCollection<string>
    const wrong: PCollection<string> = lines.apply(map((s: string) => s.length));
    expectTypeOf(wrong).not.toBeAny();
  });

  it("flatten of different element types", () => {
    const numbers = lines.apply(map((s: string) => s.length));
    // @ts-expect-error: string and number collections do not flatten without a common type
    flattenAll<string>([lines, numbers]);
  });
});
