import { deserialize, serialize } from "node:v8";
import { describe, expect, it } from "vitest";
import { NO_FIRING } from "../../../../core/pane.ts";
import {
  bagState,
  combiningState,
  eventTimer,
  mapState,
  timerFamily,
  type StatefulDoFn,
  valueState,
} from "../../../../core/state.ts";
import { DEFAULT_WINDOWING } from "../../../../core/windowing-strategy.ts";
import { type BoundedWindow, GlobalWindow, IntervalWindow } from "../../../../core/windows/window.ts";
import { StatefulRunner, type StatefulSnapshot } from "../../../../runners/engine/state/stateful-runner.ts";
import { sumFn } from "../../../../transforms/combine.ts";

// A key whose state is all empty, with no timer set, is released (StatefulRunner's `Slot`): checked against an
// independent model of what each key and window holds, including reads after a key comes back, the output
// watermark (the window's hold outlives its released keys) and checkpoints taken at any point.

type Op =
  | { readonly kind: "write"; readonly n: number }
  | { readonly kind: "clearValue" }
  | { readonly kind: "add"; readonly s: string }
  | { readonly kind: "clearBag" }
  | { readonly kind: "put"; readonly k: string; readonly n: number }
  | { readonly kind: "remove"; readonly k: string }
  | { readonly kind: "sum"; readonly n: number }
  | { readonly kind: "clearSum" }
  | { readonly kind: "set"; readonly t: number }
  | { readonly kind: "unset" }
  | { readonly kind: "clearAll" };

const STATE = {
  value: valueState<number>(),
  bag: bagState<string>(),
  map: mapState<string, number>(),
  sum: combiningState(sumFn),
};
const TIMERS = { t: eventTimer() };

interface Reads {
  readonly value: number | undefined;
  readonly bag: readonly string[];
  readonly map: readonly (readonly [string, number])[];
  readonly sum: number;
  readonly timer: number | undefined;
}
const show = (r: Reads) =>
  `value=${r.value} bag=${r.bag.join(",")} map=${[...r.map]
    .sort((a, b) => (a[0] < b[0] ? -1 : 1))
    .map(([k, v]) => `${k}:${v}`)
    .join(",")} sum=${r.sum} timer=${r.timer}`;

/** Outputs what the key reads, then applies the op; a firing timer outputs what it reads and clears everything. */
const fn: StatefulDoFn<string, Op, string, typeof STATE, typeof TIMERS> = {
  state: STATE,
  timers: TIMERS,
  process([key, op], ctx) {
    const s = ctx.state;
    ctx.output(
      `${key} ${ctx.window} ${op.kind}: ${show({ value: s.value.read(), bag: s.bag.read(), map: s.map.entries(), sum: s.sum.read(), timer: ctx.timers.t.time() })}`,
    );
    switch (op.kind) {
      case "write":
        return s.value.write(op.n);
      case "clearValue":
        return s.value.clear();
      case "add":
        return s.bag.add(op.s);
      case "clearBag":
        return s.bag.clear();
      case "put":
        return s.map.put(op.k, op.n);
      case "remove":
        return s.map.remove(op.k);
      case "sum":
        return s.sum.add(op.n);
      case "clearSum":
        return s.sum.clear();
      case "set":
        return ctx.timers.t.set(op.t);
      case "unset":
        return ctx.timers.t.clear();
      case "clearAll":
        s.value.clear();
        s.bag.clear();
        s.map.clear();
        s.sum.clear();
        return ctx.timers.t.clear();
    }
  },
  onTimer: {
    t(ctx) {
      const s = ctx.state;
      ctx.output(
        `${ctx.key} ${ctx.window} fired at ${ctx.firingTime}: ${show({ value: s.value.read(), bag: s.bag.read(), map: s.map.entries(), sum: s.sum.read(), timer: ctx.timers.t.time() })}`,
      );
      s.value.clear();
      s.bag.clear();
      s.map.clear();
      s.sum.clear();
    },
  },
};

const LATENESS = 50;
const WINDOW = 100;

/** What one key and window holds, in the model. */
interface ModelSlot {
  value: number | undefined;
  bag: string[];
  map: Map<string, number>;
  sum: number | undefined;
  timer: { time: number; order: number } | undefined;
}

/** The model: plain maps, no engine code. */
class Model {
  readonly slots = new Map<string, { key: string; window: BoundedWindow; s: ModelSlot }>();
  /** Windows seen and not expired: their max timestamps hold the output watermark. */
  readonly windows = new Map<string, { maxTs: number; gcTime: number }>();
  inputWatermark = Number.NEGATIVE_INFINITY;
  outputWatermark = Number.NEGATIVE_INFINITY;
  private order = 0;

  static gcTime(w: BoundedWindow): number {
    return w === GlobalWindow.INSTANCE ? w.maxTimestamp : w.maxTimestamp + LATENESS;
  }

  element(key: string, w: BoundedWindow, op: Op, out: string[]): void {
    if (Model.gcTime(w) < this.inputWatermark) return; // dropped as expired
    this.windows.set(w.toString(), { maxTs: w.maxTimestamp, gcTime: Model.gcTime(w) });
    const id = `${w}|${key}`;
    let e = this.slots.get(id);
    if (e === undefined) {
      e = { key, window: w, s: { value: undefined, bag: [], map: new Map(), sum: undefined, timer: undefined } };
      this.slots.set(id, e);
    }
    const s = e.s;
    out.push(`${key} ${w} ${op.kind}: ${show(this.reads(s))}`);
    switch (op.kind) {
      case "write":
        s.value = op.n;
        break;
      case "clearValue":
        s.value = undefined;
        break;
      case "add":
        s.bag.push(op.s);
        break;
      case "clearBag":
        s.bag = [];
        break;
      case "put":
        s.map.set(op.k, op.n);
        break;
      case "remove":
        s.map.delete(op.k);
        break;
      case "sum":
        s.sum = (s.sum ?? 0) + op.n;
        break;
      case "clearSum":
        s.sum = undefined;
        break;
      case "set":
        s.timer = { time: op.t, order: this.order++ };
        break;
      case "unset":
        s.timer = undefined;
        break;
      case "clearAll":
        Object.assign(s, { value: undefined, bag: [], map: new Map(), sum: undefined, timer: undefined });
        break;
    }
  }

  advance(w: number, out: string[]): void {
    if (w > this.inputWatermark) {
      this.inputWatermark = w;
      const due = [...this.slots.values()]
        .filter((e) => e.s.timer !== undefined && e.s.timer.time < w)
        .sort((a, b) => {
          const x = a.s.timer as { time: number; order: number };
          const y = b.s.timer as { time: number; order: number };
          return x.time - y.time || x.order - y.order;
        });
      for (const e of due) {
        const s = e.s;
        const t = (s.timer as { time: number }).time;
        s.timer = undefined;
        out.push(`${e.key} ${e.window} fired at ${t}: ${show(this.reads(s))}`);
        Object.assign(s, { value: undefined, bag: [], map: new Map(), sum: undefined });
      }
      for (const [id, e] of this.slots) if (Model.gcTime(e.window) < w) this.slots.delete(id);
      for (const [id, win] of this.windows) if (win.gcTime < w) this.windows.delete(id);
    }
    this.refresh();
  }

  /** `Out' = max(Out, min(In, timers set, windows' max timestamps))`. */
  refresh(): void {
    let hold = this.inputWatermark;
    for (const e of this.slots.values()) if (e.s.timer !== undefined) hold = Math.min(hold, e.s.timer.time);
    for (const win of this.windows.values()) hold = Math.min(hold, win.maxTs);
    this.outputWatermark = Math.max(this.outputWatermark, hold);
  }

  /** Key-and-window pairs that hold anything: what the runner may keep. */
  nonEmpty(): number {
    let n = 0;
    for (const { s } of this.slots.values()) {
      if (s.value !== undefined || s.bag.length > 0 || s.map.size > 0 || s.sum !== undefined || s.timer) n++;
    }
    return n;
  }

  private reads(s: ModelSlot): Reads {
    return { value: s.value, bag: s.bag, map: [...s.map], sum: s.sum ?? 0, timer: s.timer?.time };
  }
}

type Step =
  | { readonly kind: "element"; readonly key: string; readonly window: BoundedWindow; readonly op: Op; ts: number }
  | { readonly kind: "watermark"; readonly t: number };

function script(seed: number, length: number): Step[] {
  let a = seed;
  const rnd = () => {
    a = (a * 1103515245 + 12345) & 0x7fffffff;
    return a / 0x7fffffff;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const steps: Step[] = [];
  let wm = 0;
  for (let i = 0; i < length; i++) {
    if (rnd() < 0.1) {
      wm += Math.floor(rnd() * 60);
      steps.push({ kind: "watermark", t: wm });
      continue;
    }
    const ts = wm + Math.floor(rnd() * 150);
    const global = rnd() < 0.5;
    const window: BoundedWindow = global
      ? GlobalWindow.INSTANCE
      : new IntervalWindow(Math.floor(ts / WINDOW) * WINDOW, Math.floor(ts / WINDOW) * WINDOW + WINDOW);
    const r = rnd();
    // Clears are as likely as writes, so keys often end up empty and come back.
    const op: Op =
      r < 0.12
        ? { kind: "write", n: Math.floor(rnd() * 100) }
        : r < 0.24
          ? { kind: "clearValue" }
          : r < 0.32
            ? { kind: "add", s: pick(["a", "b", "c"]) }
            : r < 0.4
              ? { kind: "clearBag" }
              : r < 0.48
                ? { kind: "put", k: pick(["x", "y"]), n: Math.floor(rnd() * 10) }
                : r < 0.56
                  ? { kind: "remove", k: pick(["x", "y"]) }
                  : r < 0.62
                    ? { kind: "sum", n: 1 + Math.floor(rnd() * 5) }
                    : r < 0.68
                      ? { kind: "clearSum" }
                      : r < 0.78
                        ? { kind: "set", t: Math.min(ts + Math.floor(rnd() * 80), window.maxTimestamp) }
                        : r < 0.88
                          ? { kind: "unset" }
                          : { kind: "clearAll" };
    steps.push({ kind: "element", key: pick(["k0", "k1", "k2", "k3", "k4", "k5"]), window, op, ts });
  }
  steps.push({ kind: "watermark", t: Number.MAX_SAFE_INTEGER });
  return steps;
}

function runner(out: string[]): StatefulRunner {
  return new StatefulRunner({ ...DEFAULT_WINDOWING, allowedLatenessMs: LATENESS }, fn as never, {
    output(value) {
      out.push(String(value));
    },
  });
}

function apply(r: StatefulRunner, step: Step): void {
  if (step.kind === "element") r.processElement(step.key, step.op, step.ts, [step.window], NO_FIRING);
  else r.advanceInputWatermark(step.t);
  r.refreshOutputWatermark();
}

describe("StatefulRunner releases empty keys", () => {
  it.each([1, 2, 3, 4])(
    "reads, outputs and output watermark equal an independent model, and only keys holding something are kept, checkpointed at any point (seed %i)",
    (seed) => {
      const steps = script(seed, 1500);
      const model = new Model();
      const expected: string[] = [];
      const got: string[] = [];
      let r = runner(got);
      let kept = 0;
      let returned = 0;
      const seen = new Set<string>();
      for (const [i, step] of steps.entries()) {
        if (step.kind === "element") {
          const id = `${step.window}|${step.key}`;
          if (seen.has(id) && !model.slots.has(id)) returned++;
          seen.add(id);
          model.element(step.key, step.window, step.op, expected);
        } else model.advance(step.t, expected);
        apply(r, step);
        expect(got, `step ${i}`).toEqual(expected);
        expect(r.outputWatermark, `output watermark at step ${i}`).toBe(model.outputWatermark);
        expect(r.slotCount(), `slots at step ${i}`).toBe(model.nonEmpty());
        kept = Math.max(kept, r.slotCount());
        // Released keys leave the model's map too, when it is all empty (so that "returned" counts comebacks).
        for (const [id, e] of model.slots) {
          const s = e.s;
          if (s.value === undefined && !s.bag.length && !s.map.size && s.sum === undefined && !s.timer)
            model.slots.delete(id);
        }
        if (i % 97 === 13) {
          const snap = deserialize(serialize(r.snapshot())) as StatefulSnapshot;
          r = runner(got);
          r.restore(snap);
          expect(r.slotCount()).toBe(model.nonEmpty());
        }
      }
      expect(got.length).toBeGreaterThan(1000);
      expect(got.filter((l) => l.includes(" fired at ")).length).toBeGreaterThan(20);
      expect(returned, "keys that came back after being released").toBeGreaterThan(100);
      expect(r.slotCount()).toBe(0);
    },
  );

  it("a window's hold outlives its released keys, through a checkpoint of this version and of an earlier one", () => {
    const out: string[] = [];
    const r = runner(out);
    const w = new IntervalWindow(0, 100);
    r.processElement("k", { kind: "write", n: 1 }, 5, [w], NO_FIRING);
    r.processElement("k", { kind: "clearValue" }, 6, [w], NO_FIRING);
    expect(r.slotCount()).toBe(0);
    r.advanceInputWatermark(120);
    expect(r.outputWatermark).toBe(99); // held at the window's max timestamp until it expires at 149
    const snap = deserialize(serialize(r.snapshot())) as StatefulSnapshot;
    expect(snap.slots).toEqual([]);
    const restored = runner([]);
    restored.restore(snap);
    restored.advanceInputWatermark(140);
    expect(restored.outputWatermark).toBe(99);
    restored.advanceInputWatermark(150);
    expect(restored.outputWatermark).toBe(150);

    // An earlier version kept the empty slot and had no `windows`: the slot's window is held, the slot let go.
    const old: StatefulSnapshot = {
      ...snap,
      windows: undefined,
      slots: [{ seq: 0, key: "k", window: { start: 0, end: 100 }, gcTime: 149, cells: {}, timers: [] }],
    };
    const fromOld = runner([]);
    fromOld.restore(old);
    expect(fromOld.slotCount()).toBe(0);
    fromOld.advanceInputWatermark(140);
    expect(fromOld.outputWatermark).toBe(99);
    fromOld.processElement("k", { kind: "add", s: "a" }, 7, [w], NO_FIRING);
    fromOld.advanceInputWatermark(150);
    expect(fromOld.outputWatermark).toBe(150);
  });

  it("a long-lived key keeps no record of the family timers it set once they fired or were cleared (a timer per session)", () => {
    // One user key in the global window, its state never empty (so the key stays), a timer per "session" id: each
    // either is cleared by the next element (even ids) or fires (odd ids), as the Gold session writer's expiry timers.
    const STATE1 = { n: valueState<number>() };
    const TIMERS1 = { expire: timerFamily("event") };
    const fired: string[] = [];
    const perSession: StatefulDoFn<string, number, string, typeof STATE1, typeof TIMERS1> = {
      state: STATE1,
      timers: TIMERS1,
      process([, i], ctx) {
        ctx.state.n.write(i);
        if (i % 2 === 1) ctx.timers.expire.get(`s${i - 1}`).clear();
        ctx.timers.expire.get(`s${i}`).set(i * 10 + 5);
      },
      onTimer: {
        expire(ctx) {
          fired.push(ctx.timerId);
        },
      },
    };
    const r = new StatefulRunner(DEFAULT_WINDOWING, perSession as never, { output() {} });
    const g = [GlobalWindow.INSTANCE];
    const sessions = 20_000;
    for (let i = 0; i < sessions; i++) {
      r.processElement("user", i, i * 10, g, NO_FIRING);
      // After an even element the watermark passes the odd timer before it, which fires; an even timer is cleared by
      // the odd element after it before the watermark reaches it.
      if (i % 2 === 0) r.advanceInputWatermark(i * 10 - 1);
      expect(r.footprint().timerRecords).toBeLessThanOrEqual(2);
    }
    r.advanceInputWatermark(sessions * 10 + 10);
    expect(fired.length).toBe(sessions / 2); // every odd id, the last one at the end
    expect(fired.slice(0, 3)).toEqual(["s1", "s3", "s5"]);
    expect(fired.at(-1)).toBe(`s${sessions - 1}`);
    expect(r.slotCount()).toBe(1);
    expect(r.footprint().timerRecords).toBe(0);
  });

  it("a handler that clears its own family timer and sets it again keeps the new timer (read, checkpointed, moved)", () => {
    const STATE1 = { n: valueState<number>() };
    const TIMERS1 = { t: timerFamily("event") };
    const fired: string[] = [];
    const seen: (number | undefined)[] = [];
    const rearming: StatefulDoFn<string, number, string, typeof STATE1, typeof TIMERS1> = {
      state: STATE1,
      timers: TIMERS1,
      process([, v], ctx) {
        ctx.state.n.write(v);
        if (v === 0) ctx.timers.t.get("a").set(100);
        if (v === 1) seen.push(ctx.timers.t.get("a").time());
        if (v === 2) ctx.timers.t.get("a").set(300); // moves it: only 300 fires after this
      },
      onTimer: {
        t(ctx) {
          fired.push(`${ctx.timerId}@${ctx.firingTime}`);
          if (ctx.firingTime === 100) {
            ctx.timers.t.get("a").clear();
            ctx.timers.t.get("a").set(200);
          }
        },
      },
    };
    const g = [GlobalWindow.INSTANCE];
    const r = new StatefulRunner(DEFAULT_WINDOWING, rearming as never, { output() {} });
    r.processElement("k", 0, 0, g, NO_FIRING);
    r.advanceInputWatermark(150);
    r.processElement("k", 1, 160, g, NO_FIRING);
    expect(seen).toEqual([200]);
    expect(r.footprint().timerRecords).toBe(1);
    const snap = deserialize(serialize(r.snapshot())) as StatefulSnapshot;
    r.processElement("k", 2, 170, g, NO_FIRING);
    r.advanceInputWatermark(1000);
    expect(fired).toEqual(["a@100", "a@300"]);
    // The checkpoint taken while a@200 was set restores it.
    const restored = new StatefulRunner(DEFAULT_WINDOWING, rearming as never, { output() {} });
    restored.restore(snap);
    fired.length = 0;
    restored.advanceInputWatermark(1000);
    expect(fired).toEqual(["a@200"]);
  });

  it("keeps every key of a DoFn with onWindowExpiration, which Beam calls for each key and window seen", () => {
    const expiring: StatefulDoFn<string, number, string, typeof STATE, Record<string, never>> = {
      state: STATE,
      process() {},
      onWindowExpiration(ctx) {
        ctx.output(`expired ${ctx.key}`);
      },
    };
    const out: string[] = [];
    const r = new StatefulRunner(DEFAULT_WINDOWING, expiring as never, {
      output(v) {
        out.push(String(v));
      },
    });
    for (const k of ["a", "b", "c"]) r.processElement(k, 1, 5, [new IntervalWindow(0, 10)], NO_FIRING);
    expect(r.slotCount()).toBe(3);
    r.advanceInputWatermark(10);
    expect(out).toEqual(["expired a", "expired b", "expired c"]);
    expect(r.slotCount()).toBe(0);
  });

  it("1,000,000 distinct keys, each written, given a timer and cleared when it fires (Nexmark's WinningBids): nothing kept per key", () => {
    const STATE1 = { v: valueState<number>() };
    const TIMERS1 = { close: eventTimer() };
    const closing: StatefulDoFn<number, number, number, typeof STATE1, typeof TIMERS1> = {
      state: STATE1,
      timers: TIMERS1,
      process([, v], ctx) {
        ctx.state.v.write(v);
        ctx.timers.close.set(ctx.timestamp + 10);
      },
      onTimer: {
        close(ctx) {
          ctx.output(ctx.state.v.read() as number);
          ctx.state.v.clear();
        },
      },
    };
    let outputs = 0;
    const r = new StatefulRunner(DEFAULT_WINDOWING, closing as never, {
      output() {
        outputs++;
      },
    });
    const global = [GlobalWindow.INSTANCE];
    const most = { slots: 0, windowHolds: 0, expiryEntries: 0, timerEntries: 0 };
    for (let k = 0; k < 1_000_000; k++) {
      r.processElement(k, k, k, global, NO_FIRING);
      if (k % 1000 === 999) {
        r.advanceInputWatermark(k - 20);
        const f = r.footprint();
        for (const n of Object.keys(most) as (keyof typeof most)[]) most[n] = Math.max(most[n], f[n]);
      }
    }
    r.advanceInputWatermark(Number.MAX_SAFE_INTEGER);
    expect(outputs).toBe(1_000_000);
    // At most the keys of the last 1,000 + 20 ms with a timer set, and stale heap entries bounded by compaction.
    expect(most.slots).toBeLessThanOrEqual(1030);
    expect(most.windowHolds).toBe(1);
    expect(most.expiryEntries).toBeLessThanOrEqual(2 * 4096 + 1030);
    expect(most.timerEntries).toBeLessThanOrEqual(3 * 1030);
    expect(r.footprint()).toMatchObject({ slots: 0, windowHolds: 0 });
  });
});
