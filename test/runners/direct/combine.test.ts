import { describe, expect, it } from "vitest";
import type { KV } from "../../../core/kv.ts";
import { Pipeline } from "../../../core/pipeline.ts";
import { fixed, sliding } from "../../../core/windows/window-fn.ts";
import { DirectRunner } from "../../../runners/direct/direct-runner.ts";
import {
  combineGlobally,
  combinePerKey,
  count,
  latest,
  max,
  mean,
  min,
  sum,
  top,
} from "../../../transforms/combine.ts";
import { map, withTimestamps } from "../../../transforms/element-wise.ts";
import { groupByKey } from "../../../transforms/group-by-key.ts";
import { assertThat } from "../../../transforms/passert.ts";
import { create } from "../../../transforms/read.ts";
import { window } from "../../../transforms/window-into.ts";

interface Sale {
  readonly shop: string;
  readonly amount: number;
  readonly t: number;
}

const SALES: readonly Sale[] = [
  { shop: "a", amount: 3, t: 1 },
  { shop: "b", amount: 10, t: 2 },
  { shop: "a", amount: 7, t: 4 },
  { shop: "a", amount: 5, t: 9 },
  { shop: "b", amount: 1, t: 12 },
  { shop: "a", amount: 2, t: 15 },
  { shop: "b", amount: 4, t: 19 },
];

/** Sales as `[shop, amount]` at their own times, in fixed windows of 10 ms. */
function salesIn10msWindows() {
  const p = Pipeline.create();
  const sales = p
    .apply(create(SALES))
    .apply(withTimestamps((s: Sale) => s.t))
    .apply(window(fixed(10)));
  const amounts = sales.apply(map((s: Sale): KV<string, number> => [s.shop, s.amount], "ByShop"));
  return { p, sales, amounts };
}

describe("DirectRunner: bounded input grouped in fixed windows", () => {
  it("groupByKey gives each key's values per window, in the on-time final pane", async () => {
    const { p, amounts } = salesIn10msWindows();
    const grouped = assertThat(
      amounts
        .apply(groupByKey<string, number>())
        .apply(map(([k, vs]: KV<string, number[]>) => [k, [...vs].sort((x, y) => x - y)])),
    );
    await new DirectRunner().run(p);
    grouped.inOnTimePane([0, 10]).containsInAnyOrder(["a", [3, 5, 7]], ["b", [10]]);
    grouped.inOnTimePane([10, 20]).containsInAnyOrder(["a", [2]], ["b", [1, 4]]);
    expect(grouped.all().every((e) => e.pane.isLast && e.pane.index === 0)).toBe(true);
    expect(
      grouped
        .all()
        .map((e) => e.timestamp)
        .sort((x, y) => x - y),
    ).toEqual([9, 9, 19, 19]);
  });

  it("combinePerKey with a custom CombineFn", async () => {
    const { p, amounts } = salesIn10msWindows();
    const joined = assertThat(
      amounts.apply(
        combinePerKey<string, number, number[], string>({
          createAccumulator: () => [],
          addInput: (acc, v) => [...acc, v],
          mergeAccumulators: (accs) => accs.flat(),
          extractOutput: (acc) => [...acc].sort((x, y) => x - y).join("+"),
        }),
      ),
    );
    await new DirectRunner().run(p);
    joined.inOnTimePane([0, 10]).containsInAnyOrder(["a", "3+5+7"], ["b", "10"]);
    joined.inOnTimePane([10, 20]).containsInAnyOrder(["a", "2"], ["b", "1+4"]);
  });

  it("count, sum, min, max and mean per key", async () => {
    const { p, amounts } = salesIn10msWindows();
    const counts = assertThat(amounts.apply(count.perKey<string>()), "Counts");
    const sums = assertThat(amounts.apply(sum.perKey<string>()), "Sums");
    const mins = assertThat(amounts.apply(min.perKey<string>()), "Mins");
    const maxes = assertThat(amounts.apply(max.perKey<string>()), "Maxes");
    const means = assertThat(amounts.apply(mean.perKey<string>()), "Means");
    await new DirectRunner().run(p);
    counts.inOnTimePane([0, 10]).containsInAnyOrder(["a", 3], ["b", 1]);
    counts.inOnTimePane([10, 20]).containsInAnyOrder(["a", 1], ["b", 2]);
    sums.inOnTimePane([0, 10]).containsInAnyOrder(["a", 15], ["b", 10]);
    sums.inOnTimePane([10, 20]).containsInAnyOrder(["a", 2], ["b", 5]);
    mins.inOnTimePane([0, 10]).containsInAnyOrder(["a", 3], ["b", 10]);
    maxes.inOnTimePane([0, 10]).containsInAnyOrder(["a", 7], ["b", 10]);
    means.inOnTimePane([0, 10]).containsInAnyOrder(["a", 5], ["b", 10]);
    means.inOnTimePane([10, 20]).containsInAnyOrder(["a", 2], ["b", 2.5]);
  });

  it("globally: count, sum, top and combineGlobally per window", async () => {
    const { p, sales } = salesIn10msWindows();
    const amounts = sales.apply(map((s: Sale) => s.amount, "Amount"));
    const counts = assertThat(amounts.apply(count.globally()), "Count");
    const sums = assertThat(amounts.apply(sum.globally()), "Sum");
    const top2 = assertThat(amounts.apply(top.largest(2).globally()), "Top2");
    const bottom2 = assertThat(amounts.apply(top.smallest(2).globally()), "Bottom2");
    const longest = assertThat(
      sales
        .apply(map((s: Sale) => s.shop.repeat(s.amount), "Words"))
        .apply(top.of(1, (x: string, y: string) => x.length - y.length).globally()),
      "Longest",
    );
    const product = assertThat(
      amounts.apply(
        combineGlobally({
          createAccumulator: () => 1,
          addInput: (a: number, v: number) => a * v,
          mergeAccumulators: (as: readonly number[]) => as.reduce((x, y) => x * y, 1),
          extractOutput: (a: number) => a,
        }),
      ),
      "Product",
    );
    await new DirectRunner().run(p);
    counts.inOnTimePane([0, 10]).containsInAnyOrder(4);
    counts.inOnTimePane([10, 20]).containsInAnyOrder(3);
    sums.inOnTimePane([0, 10]).containsInAnyOrder(25);
    top2.inOnTimePane([0, 10]).containsInAnyOrder([10, 7]);
    top2.inOnTimePane([10, 20]).containsInAnyOrder([4, 2]);
    bottom2.inOnTimePane([0, 10]).containsInAnyOrder([3, 5]);
    longest.inOnTimePane([0, 10]).containsInAnyOrder(["bbbbbbbbbb"]);
    product.inOnTimePane([10, 20]).containsInAnyOrder(8);
  });

  it("count.perElement counts each distinct element per window", async () => {
    const { p, sales } = salesIn10msWindows();
    const perShop = assertThat(sales.apply(map((s: Sale) => s.shop, "Shop")).apply(count.perElement<string>()));
    await new DirectRunner().run(p);
    perShop.inOnTimePane([0, 10]).containsInAnyOrder(["a", 3], ["b", 1]);
    perShop.inOnTimePane([10, 20]).containsInAnyOrder(["a", 1], ["b", 2]);
  });

  it("latest keeps the value with the latest event time, per key and globally", async () => {
    const { p, amounts, sales } = salesIn10msWindows();
    const perKey = assertThat(amounts.apply(latest.perKey<string, number>()), "LatestPerKey");
    const global = assertThat(sales.apply(map((s: Sale) => s.shop, "Shop")).apply(latest.globally<string>()), "Latest");
    await new DirectRunner().run(p);
    perKey.inOnTimePane([0, 10]).containsInAnyOrder(["a", 5], ["b", 10]);
    perKey.inOnTimePane([10, 20]).containsInAnyOrder(["a", 2], ["b", 4]);
    global.inOnTimePane([0, 10]).containsInAnyOrder("a");
    global.inOnTimePane([10, 20]).containsInAnyOrder("b");
  });

  it("in sliding windows an element counts in every window it belongs to", async () => {
    const p = Pipeline.create();
    const counts = assertThat(
      p
        .apply(create([1, 6, 12]))
        .apply(withTimestamps((t: number) => t))
        .apply(window(sliding(10, 5)))
        .apply(count.globally()),
    );
    await new DirectRunner().run(p);
    counts.inOnTimePane([-5, 5]).containsInAnyOrder(1);
    counts.inOnTimePane([0, 10]).containsInAnyOrder(2);
    counts.inOnTimePane([5, 15]).containsInAnyOrder(2);
    counts.inOnTimePane([10, 20]).containsInAnyOrder(1);
    expect(counts.all()).toHaveLength(4);
  });

  it("without windowing, bounded input is grouped in the global window at the end of input", async () => {
    const p = Pipeline.create();
    const sums = assertThat(
      p
        .apply(
          create<KV<string, number>>([
            ["x", 1],
            ["y", 2],
            ["x", 3],
          ]),
        )
        .apply(sum.perKey<string>()),
    );
    await new DirectRunner().run(p);
    sums.inOnTimePane("global").containsInAnyOrder(["x", 4], ["y", 2]);
    expect(sums.all().every((e) => e.pane.isLast)).toBe(true);
  });

  it("top(n) refuses n < 1", () => {
    expect(() => top.largest(0)).toThrow(/n must be a whole number of at least 1, got 0/);
  });
});
