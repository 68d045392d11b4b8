import { describe, expect, it } from "vitest";
import { Pipeline } from "../../../core/pipeline.ts";
import type { Source } from "../../../core/source.ts";
import {
  type BagStateSpec,
  type CombiningStateSpec,
  type MapStateSpec,
  type MultimapStateSpec,
  type OrderedListStateSpec,
  type SetStateSpec,
  type TimerSpec,
  type ValueStateSpec,
  bagState,
  combiningState,
  eventTimer,
  mapState,
  multimapState,
  orderedListState,
  processingTimer,
  setState,
  valueState,
} from "../../../core/state.ts";
import { defaultTrigger } from "../../../core/triggers/trigger.ts";
import { customWindows, fixed, sessions } from "../../../core/windows/window-fn.ts";
import { TestStream } from "../../../io/test-stream/test-stream.ts";
import { DirectRunner } from "../../../runners/direct/direct-runner.ts";
import { plainLog, runOnPrism } from "../../../runners/portable/prism-runner.ts";
import type { KV } from "../../../core/kv.ts";
import { combineGlobally, combinePerKey, sumFn } from "../../../transforms/combine.ts";
import { asIterable, asList, asMap, asMultimap, asSingleton } from "../../../transforms/side-inputs.ts";
import { GLOBAL_WINDOW, IntervalWindow } from "../../../core/windows/window.ts";
import { filter, map } from "../../../transforms/element-wise.ts";
import { groupByKey } from "../../../transforms/group-by-key.ts";
import { parDo } from "../../../transforms/par-do.ts";
import { create, read } from "../../../transforms/read.ts";
import { statefulParDo } from "../../../transforms/stateful-par-do.ts";
import { window } from "../../../transforms/window-into.ts";
import { usePrism } from "./prism-fixture.ts";

const M = 60_000;

/** Every kind of state cell. */
type AllState = {
  count: ValueStateSpec<number>;
  items: BagStateSpec<number>;
  total: CombiningStateSpec<number, number, number>;
  byFive: MapStateSpec<number, number>;
  parity: SetStateSpec<string>;
  multi: MultimapStateSpec<number, number>;
  ordered: OrderedListStateSpec<number>;
};

/** Runs the pipeline `build` makes on Prism and on the direct runner; each run's collected lines, sorted. */
async function both(prism: string, build: (out: string[]) => Pipeline): Promise<{ prism: string[]; direct: string[] }> {
  const a: string[] = [];
  const b: string[] = [];
  await runOnPrism(build(a), { jobEndpoint: prism });
  await new DirectRunner().run(build(b));
  return { prism: a.sort(), direct: b.sort() };
}

/** Collects each element with its timestamp and window. */
const collect = (out: string[]) =>
  parDo<unknown, never>({
    process(e, ctx) {
      out.push(`${JSON.stringify(e)} @${ctx.timestamp} ${ctx.window.toString()}`);
    },
  });

describe("Tidemark's Fn API worker on Prism v2.77.0", () => {
  const prism = usePrism();

  it("a lifted combine and a GroupByKey in fixed windows give the direct runner's output", async () => {
    const build = (out: string[]) => {
      const p = Pipeline.create();
      const s = TestStream.create<number>()
        .addElements(...Array.from({ length: 300 }, (_, i) => ({ value: i, timestamp: i * 1000 })))
        .advanceWatermarkToInfinity();
      const keyed = p
        .apply(read(s))
        .apply(map((x: number) => [`k${x % 7}`, x] as [string, number], "Key"))
        .apply(window<[string, number]>(fixed(M)), "Minutes");
      keyed.apply(combinePerKey(sumFn), "Sum").apply(collect(out), "CollectSum");
      keyed
        .apply(groupByKey(), "Group")
        .apply(map(([k, vs]: readonly [string, Iterable<number>]) => [k, [...vs].sort((x, y) => x - y)], "Sort"))
        .apply(collect(out), "CollectGroups");
      return p;
    };
    const r = await both(prism().jobEndpoint, build);
    expect(r.prism.length).toBe(2 * 7 * 5);
    expect(r.prism).toEqual(r.direct);
  });

  it("a stateful DoFn: every state kind read and written across bundles, event timers (one set from a timer) as the direct runner", async () => {
    const build = (out: string[]) => {
      const p = Pipeline.create();
      let s = TestStream.create<number>();
      for (let b = 0; b < 6; b++) {
        s = s
          .addElements(...Array.from({ length: 40 }, (_, i) => ({ value: b * 40 + i, timestamp: (b * 40 + i) * 500 })))
          .advanceWatermarkTo((b + 1) * 40 * 500);
      }
      p.apply(read(s.advanceWatermarkToInfinity()))
        .apply(map((x: number) => [x % 4, x] as [number, number], "Key"))
        .apply(
          statefulParDo<number, number, unknown, AllState, { flush: TimerSpec; again: TimerSpec }>({
            state: {
              count: valueState<number>(),
              items: bagState<number>(),
              total: combiningState(sumFn),
              byFive: mapState<number, number>(),
              parity: setState<string>(),
              multi: multimapState<number, number>(),
              ordered: orderedListState<number>(),
            },
            timers: { flush: eventTimer(), again: eventTimer() },
            process([, v], ctx) {
              const st = ctx.state;
              st.count.write((st.count.read() ?? 0) + 1);
              st.items.add(v);
              st.total.add(v);
              st.byFive.put(v % 5, (st.byFive.get(v % 5) ?? 0) + 1);
              st.parity.add(v % 2 === 0 ? "even" : "odd");
              st.multi.put(v % 3, v);
              st.ordered.add(ctx.timestamp, v);
              // Every 20 s of event time, a flush of what came since.
              ctx.timers.flush.set(Math.floor(ctx.timestamp / 20_000) * 20_000 + 19_999);
            },
            onTimer: {
              flush(ctx) {
                const st = ctx.state;
                ctx.output({
                  key: ctx.key,
                  at: ctx.firingTime,
                  count: st.count.read(),
                  items: st.items.read().reduce((a, b) => a + b, 0),
                  total: st.total.read(),
                  byFive: [...st.byFive.entries()].sort(),
                  parity: [...st.parity.read()].sort(),
                  multi: st.multi.get(1).length,
                  ordered: st.ordered.readRange(ctx.firingTime - 19_999, ctx.firingTime + 1).length,
                });
                st.items.clear();
                st.ordered.clearRange(0, ctx.firingTime - 19_999);
                // A timer set from a timer: it fires too, a second later.
                ctx.timers.again.set(ctx.firingTime + 1000);
              },
              again(ctx) {
                ctx.output({ key: ctx.key, again: ctx.firingTime });
              },
            },
          }),
          "Stateful",
        )
        .apply(collect(out), "Collect");
      return p;
    };
    const r = await both(prism().jobEndpoint, build);
    expect(r.prism.filter((l) => l.includes('"again"')).length).toBe(4 * 6);
    expect(r.prism.length).toBe(2 * 4 * 6);
    expect(r.prism).toEqual(r.direct);
  });

  it("a processing-time timer fires once; Prism reports its own clock as the firing time, not the time it was set for", async () => {
    const out: string[] = [];
    let setFor = Number.NaN;
    const p = Pipeline.create();
    const s = TestStream.create<number>()
      .advanceProcessingTime(0)
      .addElements({ value: 1, timestamp: 0 })
      .advanceProcessingTime(60_000)
      .advanceWatermarkToInfinity();
    p.apply(read(s))
      .apply(map((x: number) => ["k", x] as [string, number], "Key"))
      .apply(
        statefulParDo<string, number, string, Record<string, never>, { tick: TimerSpec }>({
          timers: { tick: processingTimer() },
          process(_, ctx) {
            ctx.timers.tick.setRelative({ offsetMs: 1000 });
            setFor = ctx.timers.tick.time() ?? Number.NaN;
          },
          onTimer: {
            tick(ctx) {
              ctx.output(`tick at ${ctx.firingTime} (${ctx.domain})`);
            },
          },
        }),
        "Ticker",
      )
      .apply(
        parDo<string, never>({
          process(e) {
            out.push(e);
          },
        }),
        "Collect",
      );
    await runOnPrism(p, { jobEndpoint: prism().jobEndpoint });
    // Set relative to the worker's clock (the Fn API sends the worker no processing time)...
    expect(setFor).toBeGreaterThan(Date.UTC(2026, 0, 1));
    // ...and fired by Prism at its TestStream's clock, which started at 0 (measured; the direct runner fires a timer
    // at the time it was set for).
    expect(out).toEqual(["tick at 0 (processing)"]);
  });

  it("what a DoFn outputs in finishBundle reaches a lifted combine and a ParDo waiting for its side input in the same bundle", async () => {
    const build = (out: string[]) => {
      const p = Pipeline.create();
      const offset = p.apply(create([100]), "Offset").apply(asSingleton<number>());
      // Holds its elements and outputs them all when the bundle ends.
      const held: [string, number][] = [];
      const buffered = p.apply(create(Array.from({ length: 30 }, (_, i) => i)), "Numbers").apply(
        parDo<number, [string, number]>({
          process(x) {
            held.push([`k${x % 3}`, x]);
          },
          finishBundle(ctx) {
            for (const kv of held.splice(0)) ctx.output(kv, 0, GLOBAL_WINDOW);
          },
        }),
        "HoldUntilFinish",
      );
      buffered.apply(combinePerKey(sumFn), "Sum").apply(collect(out), "CollectSums");
      buffered
        .apply(
          parDo<[string, number], string>({
            process([k, v], ctx) {
              ctx.output(`${k}:${v + ctx.sideInput(offset)}`);
            },
          }).withSideInputs(offset),
          "AddOffset",
        )
        .apply(collect(out), "CollectOffsets");
      return p;
    };
    const r = await both(prism().jobEndpoint, build);
    expect(r.prism).toHaveLength(3 + 30);
    expect(r.prism).toEqual(r.direct);
  });

  it("side inputs (singleton, iterable, list, map and multimap; global and fixed windows) read as on the direct runner", async () => {
    const build = (out: string[]) => {
      const p = Pipeline.create();
      const total = p
        .apply(create([1, 2, 3, 4]), "Numbers")
        .apply(combineGlobally(sumFn))
        .apply(asSingleton<number>());
      const tens = p.apply(create([10, 20]), "Tens").apply(asIterable<number>());
      const letters = p.apply(create(["x", "y"]), "Letters").apply(asList<string>());
      const names = p
        .apply(
          create<KV<number, string>>([
            [1, "one"],
            [2, "two"],
          ]),
          "Names",
        )
        .apply(asMap<number, string>());
      const tags = p
        .apply(
          create<KV<number, string>>([
            [1, "a"],
            [1, "b"],
            [2, "c"],
          ]),
          "Tags",
        )
        .apply(asMultimap<number, string>());
      p.apply(create([1, 2]), "Main")
        .apply(
          parDo<number, string>({
            process(v, ctx) {
              const t = [...ctx.sideInput(tens)].reduce((a, b) => a + b, 0);
              const m = [...(ctx.sideInput(tags).get(v) ?? [])].sort().join("");
              ctx.output(
                `${ctx.sideInput(names).get(v)}:${v}/${ctx.sideInput(total)} ${t} ${ctx.sideInput(letters).join("")} ${m}`,
              );
            },
          }).withSideInputs(total, tens, letters, names, tags),
          "ReadViews",
        )
        .apply(collect(out), "Collect");
      // Fixed windows: each main element reads its minute's side values (one stream, split: Prism v2.77.0 refuses a
      // second TestStream in a pipeline).
      const both = p
        .apply(
          read(
            TestStream.create<readonly [boolean, number]>().addElements(
              { value: [true, 5], timestamp: 1_000 },
              { value: [true, 7], timestamp: M + 1_000 },
              { value: [false, 1], timestamp: 2_000 },
              { value: [false, 2], timestamp: M + 2_000 },
            ),
          ),
          "Stream",
        )
        .apply(window<readonly [boolean, number]>(fixed(M)), "Minutes");
      const minutes = both
        .apply(filter(([isSide]: readonly [boolean, number]) => isSide, "Side"))
        .apply(map(([, v]: readonly [boolean, number]) => v, "SideV"))
        .apply(asIterable<number>());
      both
        .apply(filter(([isSide]: readonly [boolean, number]) => !isSide, "Main"))
        .apply(map(([, v]: readonly [boolean, number]) => v, "MainV"))
        .apply(
          parDo<number, string>({
            process(v, ctx) {
              ctx.output(`${v} sees ${[...ctx.sideInput(minutes)].join(",")}`);
            },
          }).withSideInputs(minutes),
          "ReadMinute",
        )
        .apply(collect(out), "CollectMinutes");
      return p;
    };
    const r = await both(prism().jobEndpoint, build);
    expect(r.prism).toHaveLength(4);
    expect(r.prism).toEqual(r.direct);
  });

  it("a custom window function runs in the worker: its windows group on Prism as on the direct runner", async () => {
    // Windows of a length that grows with the hour of the day (1 to 24 minutes): no standard function has them.
    const growing = {
      name: "GrowingMinutes",
      assign(t: number) {
        const size = (Math.floor(t / 3_600_000) % 24) * M + M;
        const start = t - (t % size);
        return [new IntervalWindow(start, start + size)];
      },
    };
    const build = (out: string[]) => {
      const p = Pipeline.create();
      const s = TestStream.create<number>()
        .addElements(...Array.from({ length: 200 }, (_, i) => ({ value: i, timestamp: i * 97_000 })))
        .advanceWatermarkToInfinity();
      p.apply(read(s))
        .apply(map((x: number) => [`k${x % 2}`, x] as [string, number], "Key"))
        .apply(window<[string, number]>(customWindows(growing)), "Growing")
        .apply(combinePerKey(sumFn), "Sum")
        .apply(collect(out), "Collect");
      return p;
    };
    const r = await both(prism().jobEndpoint, build);
    expect(r.prism.length).toBeGreaterThan(20);
    expect(r.prism).toEqual(r.direct);
  });

  it("bundle finalization: a source's checkpoint mark is finalized once Prism has committed the bundle that read it", async () => {
    const finalized: number[] = [];
    let committedBeforeFinalize = -1;
    const seen: number[] = [];
    const acked: Source<number> = {
      name: "Acknowledged",
      bounded: true,
      open() {
        let given = 0;
        let marked = 0;
        return {
          next() {
            if (given >= 50) return undefined;
            const values = Array.from({ length: 10 }, (_, i) => given + i);
            given += values.length;
            return { kind: "elements", values, timestamps: values };
          },
          checkpointMark() {
            const size = given - marked;
            marked = given;
            return {
              size,
              finalize: async () => {
                committedBeforeFinalize = seen.length;
                finalized.push(size);
              },
            };
          },
        };
      },
    };
    const p = Pipeline.create();
    p.apply(read(acked)).apply(
      parDo<number, never>({
        process(x) {
          seen.push(x);
        },
      }),
      "Consume",
    );
    await runOnPrism(p, { jobEndpoint: prism().jobEndpoint });
    expect(seen).toHaveLength(50);
    // One bundle read everything; its mark (all 50) was finalized once, after the bundle's elements were processed.
    expect(finalized).toEqual([50]);
    expect(committedBeforeFinalize).toBe(50);
  });

  it("a DoFn that throws fails the job, and the error names the step", async () => {
    const p = Pipeline.create();
    p.apply(read(TestStream.create<number>().addElements({ value: 1, timestamp: 0 }))).apply(
      parDo<number, number>({
        process(x) {
          if (x === 1) throw new Error("bad element 1");
        },
      }),
      "Explodes",
    );
    await expect(runOnPrism(p, { jobEndpoint: prism().jobEndpoint })).rejects.toThrow(
      /ended FAILED.*step "Explodes" failed processing an element.*bad element 1/s,
    );
    // The worker sent its error to Prism's logging service too: Prism logs it as the SDK's.
    const log = plainLog(prism().log());
    expect(log).toMatch(/\[SDK\] step "Explodes" failed processing an element.*bad element 1/);
  });

  it("where Prism differs: a late element merging into a fired session also fires a pane of its own proto-session, and sessions Prism merged are labelled EARLY", async () => {
    const build = (out: string[]) => {
      const p = Pipeline.create();
      const s = TestStream.create<number>()
        .addElements({ value: 1, timestamp: 0 }, { value: 2, timestamp: 10 * M })
        .advanceWatermarkTo(120 * M)
        .addElements({ value: 3, timestamp: 20 * M })
        .advanceWatermarkToInfinity();
      p.apply(read(s))
        .apply(map((x: number) => ["k", x] as [string, number], "Key"))
        .apply(
          window<[string, number]>(sessions(30 * M), {
            trigger: defaultTrigger(),
            allowedLatenessMs: 24 * 60 * M,
            accumulation: "accumulating",
          }),
          "Sessions",
        )
        .apply(combinePerKey(sumFn), "Sum")
        .apply(
          parDo<unknown, never>({
            process(e, ctx) {
              out.push(`${JSON.stringify(e)} ${ctx.window.toString()} ${ctx.pane.timing}`);
            },
          }),
          "Collect",
        );
      return p;
    };
    const r = await both(prism().jobEndpoint, build);
    // Beam's semantics (the direct runner): the on-time pane of [0, 40m), then the late pane of the merged [0, 50m).
    expect(r.direct).toEqual(['["k",3] [0, 2400000) ON_TIME', '["k",6] [0, 3000000) LATE']);
    // Prism v2.77.0: the same sums and windows, labelled EARLY, and a third pane for the late element's own window.
    expect(r.prism).toEqual([
      '["k",3] [0, 2400000) EARLY',
      '["k",3] [1200000, 3000000) LATE',
      '["k",6] [0, 3000000) EARLY',
    ]);
  });
});
