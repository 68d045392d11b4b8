/**
 * Timers against an independent model, on seeded random runs: per key, a plain event-time timer, an event-time family
 * and a processing-time family, set (with and without an output timestamp), moved, cleared and read in `process` and
 * in handlers (a handler often clears or re-sets its own timer), the watermark and the clock advanced, and the runner
 * checkpointed and restored at random points. The model knows only Beam's rules: a timer fires once its time is
 * behind its domain's clock (the input watermark, or processing time), earliest first, ties in the order they were
 * set; setting it again moves it, clearing cancels it; an advance leaves no timer due; the output watermark is the
 * input watermark held back by the output timestamps of the set timers. After every step the runner's timer reads,
 * fire order and output watermark equal the model's; at the end, with every timer fired, it keeps no family timer's
 * record (a family's ids are unbounded).
 */
import { deserialize, serialize } from "node:v8";
import { describe, expect, it } from "vitest";
import { NO_FIRING } from "../../../../core/pane.ts";
import {
  eventTimer,
  type OnTimerContext,
  type StatefulDoFn,
  type StatefulProcessContext,
  type Timer,
  timerFamily,
  valueState,
} from "../../../../core/state.ts";
import { DEFAULT_WINDOWING } from "../../../../core/windowing-strategy.ts";
import { GlobalWindow } from "../../../../core/windows/window.ts";
import { StatefulRunner } from "../../../../runners/engine/state/stateful-runner.ts";

type Domain = "event" | "processing";
interface ModelTimer {
  readonly key: string;
  readonly name: "e" | "f" | "p";
  readonly id: string;
  readonly domain: Domain;
  readonly time: number;
  /** What it holds the output watermark at. */
  readonly hold: number;
  /** The order timers were set in (ties in time fire in this order). */
  readonly seq: number;
}

const TIMERS = { e: eventTimer(), f: timerFamily("event"), p: timerFamily("processing") };
const STATE = { me: valueState<string>() };
const SPECS = [
  { name: "e", family: false, domain: "event" },
  { name: "f", family: true, domain: "event" },
  { name: "p", family: true, domain: "processing" },
] as const;
type Ctx =
  | StatefulProcessContext<string, never, typeof STATE, typeof TIMERS>
  | OnTimerContext<string, never, typeof STATE, typeof TIMERS>;

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

function run(seed: number, steps: number, keys: number, ids: number): void {
  const rand = rng(seed);
  const model = new Map<string, ModelTimer>();
  let seq = 0;
  let watermark = Number.NEGATIVE_INFINITY;
  let clock = Number.NEGATIVE_INFINITY;
  /** The timestamp of the element or firing timer being processed (a processing-time timer's default hold). */
  let current = 0;
  let firing: Domain = "event";
  let draining = false;
  const fail = (what: string): never => {
    throw new Error(`seed ${seed}: ${what}`);
  };
  const mk = (key: string, name: string, id: string) => `${key}|${name}|${id}`;
  const handle = (ctx: Ctx, name: (typeof SPECS)[number]["name"], id: string): Timer => {
    const spec = SPECS.find((s) => s.name === name) as (typeof SPECS)[number];
    return spec.family ? (ctx.timers[name as "f" | "p"].get(id) as Timer) : ctx.timers.e;
  };

  function set(ctx: Ctx, key: string, name: (typeof SPECS)[number]["name"], id: string): void {
    const spec = SPECS.find((s) => s.name === name) as (typeof SPECS)[number];
    const base = spec.domain === "event" ? Math.max(current, Number.isFinite(watermark) ? watermark : current) : clock;
    const time = (Number.isFinite(base) ? base : 0) + rand(50) - 10;
    const outputTimestamp = rand(10) < 3 ? current + rand(30) : undefined;
    handle(ctx, name, id).set(time, outputTimestamp === undefined ? undefined : { outputTimestamp });
    const hold = outputTimestamp ?? (spec.domain === "event" ? time : current);
    model.set(mk(key, name, id), { key, name, id, domain: spec.domain, time, hold, seq: seq++ });
  }

  function randomOps(ctx: Ctx, key: string, own?: ModelTimer): void {
    if (draining) return;
    if (own !== undefined && rand(10) < 4) {
      // The firing timer's own handle: cleared, re-set, or both.
      if (rand(2) === 0) {
        handle(ctx, own.name, own.id).clear();
        model.delete(mk(key, own.name, own.id));
      }
      if (rand(10) < 7) set(ctx, key, own.name, own.id);
    }
    for (let n = rand(4); n > 0; n--) {
      const spec = SPECS[rand(SPECS.length)] as (typeof SPECS)[number];
      const id = spec.family ? `i${rand(ids)}` : "";
      const c = rand(4);
      if (c < 2) set(ctx, key, spec.name, id);
      else if (c === 2) {
        handle(ctx, spec.name, id).clear();
        model.delete(mk(key, spec.name, id));
      } else {
        const got = handle(ctx, spec.name, id).time();
        const want = model.get(mk(key, spec.name, id))?.time;
        if (got !== want) fail(`${key} ${spec.name}(${id}).time() is ${got}, the model says ${want}`);
      }
    }
  }

  function nextDue(domain: Domain): ModelTimer | undefined {
    const now = domain === "event" ? watermark : clock;
    let best: ModelTimer | undefined;
    for (const t of model.values()) {
      if (t.domain !== domain || !(t.time < now)) continue;
      if (best === undefined || t.time < best.time || (t.time === best.time && t.seq < best.seq)) best = t;
    }
    return best;
  }

  const onFire = (name: "e" | "f" | "p") => (ctx: OnTimerContext<string, never, typeof STATE, typeof TIMERS>) => {
    const key = ctx.state.me.read() as string;
    const want = nextDue(firing);
    if (want === undefined) fail(`${key} ${name}(${ctx.timerId}) fired at ${ctx.firingTime}; nothing is due`);
    const w = want as ModelTimer;
    if (w.key !== key || w.name !== name || w.id !== ctx.timerId || w.time !== ctx.firingTime) {
      fail(
        `fired ${key} ${name}(${ctx.timerId})@${ctx.firingTime}, the model's next is ${w.key} ${w.name}(${w.id})@${w.time}`,
      );
    }
    model.delete(mk(w.key, w.name, w.id));
    current = w.hold;
    randomOps(ctx, key, w);
  };
  const fn: StatefulDoFn<string, number, never, typeof STATE, typeof TIMERS> = {
    state: STATE,
    timers: TIMERS,
    process([key], ctx) {
      ctx.state.me.write(key);
      randomOps(ctx, key);
    },
    onTimer: { e: onFire("e"), f: onFire("f"), p: onFire("p") },
  };

  const fresh = () => new StatefulRunner(DEFAULT_WINDOWING, fn as never, { output() {} });
  let runner = fresh();
  const windows = [GlobalWindow.INSTANCE];
  let t = 0;
  let outputWatermark = Number.NEGATIVE_INFINITY;
  for (let step = 0; step < steps; step++) {
    const c = rand(100);
    if (c < 55) {
      t += rand(5);
      current = t;
      runner.processElement(`k${rand(keys)}`, 0, t, windows, NO_FIRING);
      // A bundle's end, as the direct runner's stage ends each bundle.
      runner.refreshOutputWatermark();
    } else if (c < 80) {
      const to = (Number.isFinite(watermark) ? watermark : 0) + rand(20);
      firing = "event";
      // A timer set behind its clock fires at the clock's next advance: only an advance leaves none due.
      const advanced = to > watermark;
      if (advanced) watermark = to;
      runner.advanceInputWatermark(to);
      const left = advanced ? nextDue("event") : undefined;
      if (left !== undefined) fail(`step ${step}: ${left.key} ${left.name}(${left.id})@${left.time} due, not fired`);
    } else if (c < 94) {
      const to = (Number.isFinite(clock) ? clock : 0) + rand(20);
      firing = "processing";
      // A timer set behind its clock fires at the clock's next advance: only an advance leaves none due.
      const advanced = to > clock;
      if (advanced) clock = to;
      runner.advanceProcessingTime(to);
      const left = advanced ? nextDue("processing") : undefined;
      if (left !== undefined) fail(`step ${step}: ${left.key} ${left.name}(${left.id})@${left.time} due, not fired`);
    } else {
      const snap = deserialize(serialize(runner.snapshot()));
      runner = fresh();
      runner.restore(snap);
    }
    if (c < 94) {
      let hold = watermark;
      for (const m of model.values()) if (m.hold < hold) hold = m.hold;
      if (hold > outputWatermark) outputWatermark = hold;
      if (runner.outputWatermark !== outputWatermark) {
        const held = [...model.values()].filter((m) => m.hold === hold);
        fail(
          `step ${step}: output watermark ${runner.outputWatermark}, the model's ${outputWatermark} ` +
            `(input ${watermark}, held by ${held.map((m) => `${m.key} ${m.name}(${m.id})@${m.time}`).join(", ")}; ` +
            `runner's earliest hold ${runner.earliestHold()})`,
        );
      }
    }
  }
  // Everything left fires, the handlers setting nothing more; then no family timer's record is left behind.
  draining = true;
  const last = (d: Domain) => Math.max(0, ...[...model.values()].filter((m) => m.domain === d).map((m) => m.time)) + 1;
  firing = "event";
  watermark = Math.max(watermark + 1, last("event"));
  runner.advanceInputWatermark(watermark);
  firing = "processing";
  clock = Math.max(clock + 1, last("processing"));
  runner.advanceProcessingTime(clock);
  expect(model.size).toBe(0);
  // A plain timer keeps its one record while its key's state lives (here `me`, never cleared): at most one a key.
  expect(runner.footprint().timerRecords).toBeLessThanOrEqual(keys);
}

describe("timers against a model (seeded random runs)", () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20])("seed %i", (seed) => {
    run(seed, 400, 1 + (seed % 4), 3);
  });
  it.each([101, 102, 103])("a long run with many ids (seed %i)", (seed) => {
    run(seed, 20_000, 3, 400);
  });
});
