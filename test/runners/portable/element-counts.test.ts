/**
 * Elements per step on Prism (Beam's `element_count`, summed by Prism, read back with GetJobMetrics) equal the direct
 * runner's: each element counted once whatever Prism fuses, for the PCollections the runner makes (a TestStream's, a
 * Flatten's, a grouping's, a Window.remerge's) as for those a worker makes (`runners/portable/runner-made.ts`).
 */
import { describe, expect, it } from "vitest";
import type { KV } from "../../../core/kv.ts";
import { Pipeline } from "../../../core/pipeline.ts";
import { sessions } from "../../../core/windows/window-fn.ts";
import { TestStream } from "../../../io/test-stream/test-stream.ts";
import { DirectRunner } from "../../../runners/direct/direct-runner.ts";
import type { MetricsSnapshot } from "../../../runners/direct/metrics.ts";
import { runOnPrism } from "../../../runners/portable/prism-runner.ts";
import { map } from "../../../transforms/element-wise.ts";
import { flattenAll } from "../../../transforms/flatten.ts";
import { groupByKey } from "../../../transforms/group-by-key.ts";
import { create, read } from "../../../transforms/read.ts";
import { remerge, window } from "../../../transforms/window-into.ts";
import { usePrism } from "./prism-fixture.ts";

/** A fixture stream (Beam's TestStream on Prism) of 20 numbers, 100 ms apart. */
function numbers() {
  let s = TestStream.create<number>();
  for (let i = 0; i < 20; i++) s = s.addElements({ value: i, timestamp: 1_000 + i * 100 });
  return read(s.advanceWatermarkToInfinity());
}

const counts = (m: MetricsSnapshot) => m.steps.map((s) => ({ step: s.step, in: s.elementsIn, out: s.elementsOut }));

async function bothRunners(build: () => Pipeline, endpoint: string) {
  const direct = await new DirectRunner().run(build());
  const prism = await runOnPrism(build(), { jobEndpoint: endpoint });
  return { direct: counts(direct), prism: counts(prism.metrics) };
}

describe("elements per step on Prism", () => {
  const prism = usePrism();

  it("a TestStream read by two steps (each in a stage of its own on Prism) is counted once", async () => {
    const build = () => {
      const p = Pipeline.create();
      const r = p.apply(numbers(), "Read");
      r.apply(map((x: number) => x, "C1"));
      r.apply(map((x: number) => x, "C2"));
      return p;
    };
    const { direct, prism: onPrism } = await bothRunners(build, prism().jobEndpoint);
    expect(direct).toEqual([
      { step: "Read", in: 0, out: 20 },
      { step: "C1", in: 20, out: 20 },
      { step: "C2", in: 20, out: 20 },
    ]);
    expect(onPrism).toEqual(direct);
  }, 120_000);

  it("Window.remerge's output (an identity Flatten Prism runs itself) is counted, as the step after it", async () => {
    const build = () => {
      const p = Pipeline.create();
      p.apply(numbers(), "Read")
        .apply(map((x: number) => [`k${x % 2}`, x] as KV<string, number>, "Key"))
        .apply(window<KV<string, number>>(sessions(1_000)), "Sessions")
        .apply(groupByKey<string, number>(), "G")
        .apply(map((kv: KV<string, number[]>) => [kv[0], kv[1].length] as KV<string, number>, "Size"))
        .apply(remerge<KV<string, number>>(), "Remerge")
        .apply(map((kv: KV<string, number>) => kv, "After"));
      return p;
    };
    const { direct, prism: onPrism } = await bothRunners(build, prism().jobEndpoint);
    expect(direct.find((s) => s.step === "Remerge")).toEqual({ step: "Remerge", in: 2, out: 2 });
    expect(onPrism).toEqual(direct);
  }, 120_000);

  it("a Flatten's and a GroupByKey's outputs read by two steps each are counted once", async () => {
    const build = () => {
      const p = Pipeline.create();
      const f = flattenAll([p.apply(create([1, 2, 3, 4, 5]), "A"), p.apply(create([6, 7, 8]), "B")], "F");
      f.apply(map((x: number) => x, "F1"));
      f.apply(map((x: number) => x, "F2"));
      const g = f
        .apply(map((x: number) => [`k${x % 2}`, x] as KV<string, number>, "Key"))
        .apply(groupByKey<string, number>(), "G");
      g.apply(map((x: KV<string, number[]>) => x, "G1"));
      g.apply(map((x: KV<string, number[]>) => x, "G2"));
      return p;
    };
    const { direct, prism: onPrism } = await bothRunners(build, prism().jobEndpoint);
    expect(direct.find((s) => s.step === "G2")).toEqual({ step: "G2", in: 2, out: 2 });
    expect(onPrism).toEqual(direct);
  }, 120_000);
});
