/**
 * Properties that must hold for any input, checked on seeded random streams (the harness also checks its invariants
 * after every step): the two ways of feeding sessions agree, combining agrees with buffering, accumulating panes are
 * the running union of discarding panes, and no accepted element is lost or emitted twice.
 */
import { describe, expect, it } from "vitest";
import {
  afterAll,
  afterAny,
  afterCount,
  afterEach,
  afterProcessingTime,
  afterWatermark,
  defaultTrigger,
  never,
  orFinally,
  repeatedly,
  type Trigger,
} from "../../../../core/triggers/trigger.ts";
import type { TimestampCombiner } from "../../../../core/windowing-strategy.ts";
import { fixed, sessions, sliding, type WindowFn } from "../../../../core/windows/window-fn.ts";
import { sumFn } from "../../../../transforms/combine.ts";
import { type FiredPane, type HarnessOptions, reduceHarness } from "./harness.ts";

type Step =
  | { readonly kind: "bundle"; readonly elements: readonly { t: number; key: string; value: number }[] }
  | { readonly kind: "watermark"; readonly to: number }
  | { readonly kind: "processingTime"; readonly to: number };

/** A seeded stream: bundles around the watermark (some late), watermark and clock advances, then the end. */
function randomSteps(seed: number, length = 60): Step[] {
  let s = seed >>> 0 || 1;
  const rand = (n: number) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
  const steps: Step[] = [];
  let watermark = 0;
  let clock = 0;
  let value = 0;
  for (let i = 0; i < length; i++) {
    const r = rand(10);
    if (r < 6) {
      const n = 1 + rand(4);
      const elements = Array.from({ length: n }, () => ({
        t: Math.max(0, watermark - 30 + rand(80)),
        key: `k${rand(3)}`,
        value: value++,
      }));
      steps.push({ kind: "bundle", elements });
    } else if (r < 8) {
      watermark += rand(25);
      steps.push({ kind: "watermark", to: watermark });
    } else {
      clock += 1 + rand(20);
      steps.push({ kind: "processingTime", to: clock });
    }
  }
  steps.push({ kind: "watermark", to: Number.MAX_SAFE_INTEGER });
  return steps;
}

function play(opts: HarnessOptions, steps: readonly Step[]) {
  const h = reduceHarness(opts);
  for (const step of steps) {
    if (step.kind === "bundle") h.bundle(...step.elements.map((e) => ({ t: e.t, key: e.key, value: e.value })));
    else if (step.kind === "watermark") h.advanceWatermark(step.to);
    else h.advanceProcessingTime(step.to);
  }
  return { panes: [...h.allFired()], counters: { ...h.counters }, windows: h.windowCount(), keys: h.runner.keys.size };
}

const TRIGGERS: [string, Trigger][] = [
  ["default", defaultTrigger()],
  ["early count, late count", afterWatermark({ early: afterCount(2), late: afterCount(1) })],
  ["early processing time", afterWatermark({ early: afterProcessingTime(7) })],
  ["repeatedly(afterCount(3))", repeatedly(afterCount(3))],
  ["afterCount(2) (closes)", afterCount(2)],
  ["never", never()],
  ["afterEach(afterCount(2), afterCount(3))", afterEach(afterCount(2), afterCount(3))],
  [
    "repeatedly(afterAny(afterCount(3), afterProcessingTime(5)))",
    repeatedly(afterAny(afterCount(3), afterProcessingTime(5))),
  ],
  ["afterAll(afterCount(2), afterProcessingTime(5))", afterAll(afterCount(2), afterProcessingTime(5))],
  ["orFinally(repeatedly(afterCount(2)), afterWatermark())", orFinally(repeatedly(afterCount(2)), afterWatermark())],
];
const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];
const meta = ({ values: _values, ...rest }: FiredPane) => rest;
const valuesOf = (p: FiredPane) => p.values as number[];

describe.each(TRIGGERS)("ReduceRunner properties, trigger %s", (_, trigger) => {
  it.each(SEEDS)("sessions fed with proto-windows and fused into the grouping agree (seed %i)", (seed) => {
    const steps = randomSteps(seed);
    for (const timestampCombiner of ["endOfWindow", "earliest", "latest"] as TimestampCombiner[]) {
      const opts: HarnessOptions = { windowing: sessions(10), trigger, allowedLatenessMs: 20, timestampCombiner };
      const a = play(opts, steps);
      const b = play({ ...opts, fusedSessions: true }, steps);
      expect(b.panes).toEqual(a.panes);
      expect(b.counters).toEqual(a.counters);
    }
  });

  it.each<[string, WindowFn]>([
    ["fixed", fixed(10)],
    ["sliding", sliding(20, 10)],
    ["sessions", sessions(10)],
  ])("a combining grouping agrees with a buffering one (%s)", (_, windowing) => {
    for (const seed of SEEDS) {
      const steps = randomSteps(seed);
      for (const accumulation of ["discarding", "accumulating"] as const) {
        const opts: HarnessOptions = { windowing, trigger, allowedLatenessMs: 20, accumulation };
        const buffered = play(opts, steps);
        const combined = play({ ...opts, combineFn: sumFn as never }, steps);
        expect(combined.panes.map(meta)).toEqual(buffered.panes.map(meta));
        expect(combined.panes.map((p) => p.values)).toEqual(
          buffered.panes.map((p) => valuesOf(p).reduce((x, y) => x + y, 0)),
        );
      }
    }
  });

  it.each<[string, WindowFn]>([
    ["fixed", fixed(10)],
    ["sliding", sliding(20, 10)],
  ])("accumulating panes are the running union of discarding panes (%s)", (_, windowing) => {
    for (const seed of SEEDS) {
      const steps = randomSteps(seed);
      const discarding = play({ windowing, trigger, allowedLatenessMs: 20, accumulation: "discarding" }, steps);
      const accumulating = play({ windowing, trigger, allowedLatenessMs: 20, accumulation: "accumulating" }, steps);
      expect(accumulating.panes.map(meta)).toEqual(discarding.panes.map(meta));
      const sofar = new Map<string, number[]>();
      const expected = discarding.panes.map((p) => {
        const id = `${p.key}|${p.window}`;
        const all = [...(sofar.get(id) ?? []), ...valuesOf(p)].sort((x, y) => x - y);
        sofar.set(id, all);
        return all;
      });
      expect(accumulating.panes.map((p) => p.values)).toEqual(expected);
    }
  });

  it.each<[string, WindowFn]>([
    ["fixed", fixed(10)],
    ["sliding", sliding(20, 10)],
    ["sessions", sessions(10)],
  ])(
    "every element is emitted once in discarding mode or counted as dropped, and nothing is left (%s)",
    (_, windowing) => {
      for (const seed of SEEDS) {
        const steps = randomSteps(seed);
        const run = play({ windowing, trigger, allowedLatenessMs: 20 }, steps);
        const emitted = run.panes.flatMap(valuesOf);
        const perWindow = windowing.kind === "sliding" ? 2 : 1;
        const accounted = emitted.length + run.counters.droppedExpired + run.counters.droppedClosed;
        // Exactly: an open session that a later bundle merges into a closed session goes with it, and its elements
        // are counted as dropped (closed), so nothing vanishes uncounted.
        expect(accounted, `seed ${seed}`).toBe(run.counters.elements * perWindow);
        if (windowing.kind !== "sliding") expect(new Set(emitted).size).toBe(emitted.length);
        expect(run.windows).toBe(0);
        expect(run.keys).toBe(0);
      }
    },
  );
});
