import { describe, expect, it } from "vitest";
import { Pipeline } from "../../../core/pipeline.ts";
import type { Source } from "../../../core/source.ts";
import {
  type BagStateSpec,
  bagState,
  eventTimer,
  type TimerSpec,
  type ValueStateSpec,
  valueState,
} from "../../../core/state.ts";
import { DirectRunner } from "../../../runners/direct/direct-runner.ts";
import { runOnPrism } from "../../../runners/portable/prism-runner.ts";
import { groupByKey } from "../../../transforms/group-by-key.ts";
import { parDo } from "../../../transforms/par-do.ts";
import { read } from "../../../transforms/read.ts";
import { statefulParDo } from "../../../transforms/stateful-par-do.ts";
import { usePrism } from "./prism-fixture.ts";

/** `n` elements `[key i mod keys, i]` at timestamp i, read in the worker (Impulse, then the reading step). */
function generated(n: number, keys: number): Source<[string, number]> {
  return {
    name: `Generated(${n})`,
    bounded: true,
    open() {
      let i = 0;
      return {
        next() {
          if (i >= n) return undefined;
          const size = Math.min(10_000, n - i);
          const values: [string, number][] = [];
          const timestamps: number[] = [];
          for (let j = 0; j < size; j++, i++) {
            values.push([`k${i % keys}`, i]);
            timestamps.push(i);
          }
          return { kind: "elements", values, timestamps };
        },
      };
    },
  };
}

/** Runs `build` on Prism and on the direct runner; each run's results by key. */
async function both(jobEndpoint: string, build: (out: Map<string, string>) => Pipeline) {
  const prism = new Map<string, string>();
  const direct = new Map<string, string>();
  await runOnPrism(build(prism), { jobEndpoint });
  await new DirectRunner().run(build(direct));
  return { prism, direct };
}

describe("exact counts at volume on Prism v2.77.0", () => {
  const prism = usePrism();

  it("a 1,000,000-element GroupByKey over 1,000 keys gives exactly the direct runner's groups", async () => {
    const build = (out: Map<string, string>) => {
      const p = Pipeline.create();
      p.apply(read(generated(1_000_000, 1_000)))
        .apply(groupByKey<string, number>(), "Group")
        .apply(
          parDo<readonly [string, Iterable<number>], never>({
            process([k, vs]) {
              let count = 0;
              let sum = 0;
              for (const v of vs) {
                count++;
                sum += v;
              }
              out.set(k, `${count}/${sum}`);
            },
          }),
          "Collect",
        );
      return p;
    };
    const r = await both(prism().jobEndpoint, build);
    expect(r.direct.size).toBe(1_000);
    expect(r.prism).toEqual(r.direct);
  }, 300_000);

  it("a stateful DoFn over 100,000 keys (value and bag state, an event timer per key) gives exactly the direct runner's output", async () => {
    const build = (out: Map<string, string>) => {
      const p = Pipeline.create();
      p.apply(read(generated(300_000, 100_000)))
        .apply(
          statefulParDo<
            string,
            number,
            string,
            { count: ValueStateSpec<number>; values: BagStateSpec<number> },
            { done: TimerSpec }
          >({
            state: { count: valueState<number>(), values: bagState<number>() },
            timers: { done: eventTimer() },
            process([, v], ctx) {
              ctx.state.count.write((ctx.state.count.read() ?? 0) + 1);
              ctx.state.values.add(v);
              ctx.timers.done.set(300_000);
            },
            onTimer: {
              done(ctx) {
                const values = ctx.state.values.read();
                ctx.output(`${ctx.key}=${ctx.state.count.read()}:${values.reduce((a, b) => a + b, 0)}`);
              },
            },
          }),
          "Count",
        )
        .apply(
          parDo<string, never>({
            process(line) {
              const [k, v] = line.split("=") as [string, string];
              if (out.has(k)) throw new Error(`key ${k} fired twice`);
              out.set(k, v);
            },
          }),
          "Collect",
        );
      return p;
    };
    const r = await both(prism().jobEndpoint, build);
    expect(r.direct.size).toBe(100_000);
    expect(r.prism).toEqual(r.direct);
  }, 300_000);
});
