import { deserialize, serialize } from "node:v8";
import { describe, expect, it } from "vitest";
import { NO_FIRING } from "../../../../core/pane.ts";
import {
  bagState,
  combiningState,
  eventTimer,
  mapState,
  orderedListState,
  processingTimer,
  setState,
  type StatefulDoFn,
  timerFamily,
  valueState,
} from "../../../../core/state.ts";
import { DEFAULT_WINDOWING } from "../../../../core/windowing-strategy.ts";
import { GlobalWindow, IntervalWindow } from "../../../../core/windows/window.ts";
import { StatefulRunner, type StatefulSnapshot } from "../../../../runners/engine/state/stateful-runner.ts";
import { sumFn } from "../../../../transforms/combine.ts";

/** A DoFn that uses every kind of state and timer, and reports them in its outputs. */
const STATE = {
  seen: valueState<number>(),
  bag: bagState<string>(),
  total: combiningState(sumFn),
  byValue: mapState<string, number>(),
  distinct: setState<string>(),
  ordered: orderedListState<string>(),
};
const TIMERS = { flush: eventTimer(), tick: processingTimer(), each: timerFamily("event") };
const fn: StatefulDoFn<string, string, string, typeof STATE, typeof TIMERS> = {
  state: STATE,
  timers: TIMERS,
  allowedTimestampSkewMs: Number.POSITIVE_INFINITY,
  process([key, v], ctx) {
    const n = (ctx.state.seen.read() ?? 0) + 1;
    ctx.state.seen.write(n);
    ctx.state.bag.add(v);
    ctx.state.total.add(v.length);
    ctx.state.byValue.put(v, n);
    ctx.state.distinct.add(v);
    ctx.state.ordered.add(ctx.timestamp, v);
    ctx.timers.flush.set(
      ctx.window.maxTimestamp === GlobalWindow.INSTANCE.maxTimestamp ? ctx.timestamp + 100 : ctx.window.maxTimestamp,
    );
    ctx.timers.tick.setRelative({ offsetMs: 50 });
    ctx.timers.each.get(v).set(ctx.timestamp + 10 * v.length);
    ctx.output(`${key}:${v}#${n}`);
  },
  onTimer: {
    flush(ctx) {
      ctx.output(
        `flush ${ctx.key} ${ctx.state.bag.read().join(",")} total=${ctx.state.total.read()} ` +
          `distinct=${[...ctx.state.distinct.read()].sort().join(",")} ordered=${ctx.state.ordered
            .read()
            .map((s) => s.value)
            .join(",")} map=${JSON.stringify(ctx.state.byValue.entries())}`,
      );
      ctx.state.bag.clear();
    },
    tick(ctx) {
      ctx.output(`tick ${ctx.key} seen=${ctx.state.seen.read()}`);
    },
    each(ctx) {
      ctx.output(`each ${ctx.key} ${ctx.timerId} at ${ctx.firingTime}`);
    },
  },
};

type Op =
  | { kind: "element"; key: string; value: string; ts: number; window: "global" | number }
  | { kind: "watermark"; t: number }
  | { kind: "processing"; t: number };

function script(seed: number): Op[] {
  let a = seed;
  const rnd = () => {
    a = (a * 1103515245 + 12345) & 0x7fffffff;
    return a / 0x7fffffff;
  };
  const ops: Op[] = [{ kind: "processing", t: 0 }];
  let wm = 0;
  let pt = 0;
  for (let i = 0; i < 300; i++) {
    const r = rnd();
    if (r < 0.7) {
      const ts = wm + Math.floor(rnd() * 400);
      ops.push({
        kind: "element",
        key: `k${Math.floor(rnd() * 5)}`,
        value: "abcdefg".slice(0, 1 + Math.floor(rnd() * 6)),
        ts,
        window: rnd() < 0.5 ? "global" : Math.floor(ts / 200) * 200,
      });
    } else if (r < 0.85) {
      wm += Math.floor(rnd() * 120);
      ops.push({ kind: "watermark", t: wm });
    } else {
      pt += Math.floor(rnd() * 80);
      ops.push({ kind: "processing", t: pt });
    }
  }
  ops.push({ kind: "watermark", t: 10_000_000 });
  return ops;
}

function runner(out: string[]): StatefulRunner {
  return new StatefulRunner({ ...DEFAULT_WINDOWING, allowedLatenessMs: 150 }, fn as never, {
    output(value, timestamp, window) {
      out.push(`${String(value)} @${timestamp} ${window.toString()}`);
    },
  });
}

function apply(r: StatefulRunner, op: Op): void {
  if (op.kind === "element") {
    const w = op.window === "global" ? GlobalWindow.INSTANCE : new IntervalWindow(op.window, op.window + 200);
    r.processElement(op.key, op.value, op.ts, [w], NO_FIRING);
  } else if (op.kind === "watermark") r.advanceInputWatermark(op.t);
  else r.advanceProcessingTime(op.t);
}

describe("StatefulRunner snapshot and restore", () => {
  it.each([1, 2, 3])(
    "a run restored from a snapshot at any point continues exactly as the uninterrupted run, timers due together in the same order (seed %i)",
    (seed) => {
      const ops = script(seed);
      const expected: string[] = [];
      const whole = runner(expected);
      for (const op of ops) apply(whole, op);
      expect(expected.filter((l) => l.startsWith("flush")).length).toBeGreaterThan(5);
      expect(expected.filter((l) => l.startsWith("tick")).length).toBeGreaterThan(5);

      for (const cut of [0, 1, 37, 150, 299, ops.length]) {
        const got: string[] = [];
        const first = runner(got);
        for (const op of ops.slice(0, cut)) apply(first, op);
        // Through the checkpoint store's encoding: plain data only.
        const snap = deserialize(serialize(first.snapshot())) as StatefulSnapshot;
        const second = runner(got);
        second.restore(snap);
        for (const op of ops.slice(cut)) apply(second, op);
        expect(got, `cut at ${cut}`).toEqual(expected);
        expect(second.counters).toEqual(whole.counters);
      }
    },
  );

  it("restore refuses a snapshot with a state the DoFn does not declare (another version's), naming it", () => {
    const r = runner([]);
    r.advanceProcessingTime(0);
    r.processElement("k", "a", 5, [GlobalWindow.INSTANCE], NO_FIRING);
    const snap = deserialize(serialize(r.snapshot())) as StatefulSnapshot;
    const slot = snap.slots[0] as { cells: Record<string, unknown> };
    slot.cells.live = slot.cells.byValue;
    delete slot.cells.byValue;
    expect(() => runner([]).restore(snap)).toThrow('checkpoint has state "live" that the DoFn does not declare');
  });

  it("restore refuses a runner that already has state", () => {
    const r = runner([]);
    r.advanceProcessingTime(0);
    r.processElement("k", "a", 5, [GlobalWindow.INSTANCE], NO_FIRING);
    expect(() => r.restore(r.snapshot())).toThrow("restore() needs a fresh StatefulRunner");
  });
});
