import { describe, expect, it } from "vitest";
import type { KV } from "../../../core/kv.ts";
import { Pipeline } from "../../../core/pipeline.ts";
import { type CustomWindowFn, customWindows } from "../../../core/windows/window-fn.ts";
import { type BoundedWindow, IntervalWindow } from "../../../core/windows/window.ts";
import { TestStream } from "../../../io/test-stream/test-stream.ts";
import { DirectRunner } from "../../../runners/direct/direct-runner.ts";
import { groupByKey } from "../../../transforms/group-by-key.ts";
import { map } from "../../../transforms/element-wise.ts";
import { assertThat } from "../../../transforms/passert.ts";
import { read } from "../../../transforms/read.ts";
import { window } from "../../../transforms/window-into.ts";

/** Groups `k`'s values per window, each as "[start, end) v1,v2". */
async function groupIn(fn: CustomWindowFn, ...timestamps: number[]): Promise<string[]> {
  const p = Pipeline.create();
  const out = assertThat(
    p
      .apply(
        read(
          TestStream.create<KV<string, number>>().addElements(
            ...timestamps.map((t) => ({ value: ["k", t] as KV<string, number>, timestamp: t })),
          ),
        ),
      )
      .apply(window(customWindows(fn)))
      .apply(groupByKey<string, number>())
      .apply(map(([, vs]: KV<string, number[]>) => [...vs].sort((a, b) => a - b).join(","))),
  );
  await new DirectRunner().run(p);
  return out
    .all()
    .map((e) => `${e.window} ${e.value}`)
    .sort();
}

/** The window of `size` ms (aligned to 0) that holds `t`. */
function interval(t: number, size: number): IntervalWindow {
  const start = t - (((t % size) + size) % size);
  return new IntervalWindow(start, start + size);
}

describe("DirectRunner: custom window functions", () => {
  it("a non-merging custom function assigns the windows it returns", async () => {
    const hundreds: CustomWindowFn = { name: "Hundreds", assign: (t) => [interval(t, 100)] };
    expect(await groupIn(hundreds, 5, 99, 100, 250)).toEqual(["[0, 100) 5,99", "[100, 200) 100", "[200, 300) 250"]);
  });

  it("a custom function may put an element in several windows", async () => {
    const twoScales: CustomWindowFn = { name: "TwoScales", assign: (t) => [interval(t, 10), interval(t, 100)] };
    expect(await groupIn(twoScales, 5, 15)).toEqual(["[0, 10) 5", "[0, 100) 5,15", "[10, 20) 15"]);
  });

  describe("a merging custom function decides what merges", () => {
    const proto = (t: number): readonly BoundedWindow[] => [new IntervalWindow(t, t + 10)];

    it("one that never merges keeps overlapping windows apart", async () => {
      const noMerge: CustomWindowFn = { name: "NoMerge", assign: proto, merge: () => [] };
      expect(await groupIn(noMerge, 1, 5)).toEqual(["[1, 11) 1", "[5, 15) 5"]);
    });

    it("one that merges touching windows merges them", async () => {
      const touching: CustomWindowFn = {
        name: "MergeTouching",
        assign: proto,
        merge(windows) {
          const ws = [...windows].map((w) => w as IntervalWindow).sort((a, b) => a.start - b.start);
          const out: { from: BoundedWindow[]; into: BoundedWindow }[] = [];
          let group: IntervalWindow[] = [];
          const flush = () => {
            if (group.length > 1) out.push({ from: group, into: group.reduce((a, b) => a.span(b)) });
            group = [];
          };
          for (const w of ws) {
            const last = group.at(-1);
            if (last && w.start > last.end) flush();
            group.push(w);
          }
          flush();
          return out;
        },
      };
      expect(await groupIn(touching, 0, 10, 30)).toEqual(["[0, 20) 0,10", "[30, 40) 30"]);
    });
  });
});
