import { describe, expect, it } from "vitest";
import type { KV } from "../../core/kv.ts";
import { Pipeline } from "../../core/pipeline.ts";
import { afterCount, afterWatermark, repeatedly } from "../../core/triggers/trigger.ts";
import { fixed, globalWindows, sessions } from "../../core/windows/window-fn.ts";
import { combinePerKey, sum, sumFn } from "../../transforms/combine.ts";
import { groupByKey } from "../../transforms/group-by-key.ts";
import { create, read } from "../../transforms/read.ts";
import { window } from "../../transforms/window-into.ts";
import { buildError, unboundedSource } from "./build-errors.ts";

const unbounded = () => Pipeline.create().apply(read(unboundedSource<KV<string, number>>()));

describe("groupByKey: build-time checks", () => {
  it("refuses unbounded input in the global window with the default trigger", () => {
    const e = buildError(() => unbounded().apply(groupByKey<string, number>()));
    expect(e.transform).toBe("GroupByKey");
    expect(e.message).toMatch(
      /^GroupByKey: grouping an unbounded PCollection in the global window with the default trigger would never emit/,
    );
  });

  it("names the grouping by its explicit name, and applies to combinePerKey and sum too", () => {
    expect(buildError(() => unbounded().apply(groupByKey<string, number>(), "ByUser")).transform).toBe("ByUser");
    expect(buildError(() => unbounded().apply(combinePerKey<string, number, number, number>(sumFn))).transform).toBe(
      "CombinePerKey",
    );
    expect(buildError(() => unbounded().apply(sum.perKey<string>())).transform).toBe("Sum.PerKey");
  });

  it("accepts unbounded input once it is windowed, or given a trigger in the global window", () => {
    const windowed = unbounded()
      .apply(window(fixed(10)))
      .apply(groupByKey<string, number>());
    expect(windowed.bounded).toBe(false);
    const triggered = unbounded()
      .apply(window(globalWindows(), { trigger: repeatedly(afterCount(1)) }))
      .apply(groupByKey<string, number>());
    expect(triggered.windowing.windowFn).toEqual(globalWindows());
  });

  it("accepts bounded input in the global window with the default trigger", () => {
    const grouped = Pipeline.create()
      .apply(create<KV<string, number>>([["a", 1]]))
      .apply(groupByKey<string, number>());
    expect(grouped.bounded).toBe(true);
  });

  it("refuses a CombineFn without its methods", () => {
    const bad = { createAccumulator: () => 0, addInput: (a: number) => a } as unknown as typeof sumFn;
    const e = buildError(() =>
      Pipeline.create()
        .apply(create<KV<string, number>>([["a", 1]]))
        .apply(combinePerKey<string, number, number, number>(bad), "Broken"),
    );
    expect(e.message).toBe("Broken: the CombineFn has no mergeAccumulators method");
  });
});

describe("groupByKey: output windowing", () => {
  it("keeps merged session windows as they are and continues the trigger", () => {
    const grouped = unbounded()
      .apply(window(sessions(10), { trigger: afterWatermark({ early: afterCount(5) }) }))
      .apply(groupByKey<string, number>());
    expect(grouped.windowing.windowFn).toEqual({ kind: "merged", from: sessions(10) });
    expect(grouped.windowing.trigger).toEqual(afterWatermark({ early: afterCount(1) }));
  });
});
