import { describe, expect, it } from "vitest";
import { createSessionStream } from "../../../bench/session-stream.ts";
import type { KV } from "../../../core/kv.ts";
import { Pipeline } from "../../../core/pipeline.ts";
import {
  bagState,
  combiningState,
  eventTimer,
  mapState,
  type MultimapStateSpec,
  multimapState,
  orderedListState,
  type SetStateSpec,
  setState,
  type TimerSpec,
  type ValueStateSpec,
  processingTimer,
  timerFamily,
  valueState,
} from "../../../core/state.ts";
import { MAX_TIMESTAMP } from "../../../core/time/instant.ts";
import { fixed, sessions } from "../../../core/windows/window-fn.ts";
import { IntervalWindow } from "../../../core/windows/window.ts";
import { TestStream } from "../../../io/test-stream/test-stream.ts";
import { DirectRunner } from "../../../runners/direct/direct-runner.ts";
import { stepMetrics } from "../../../runners/direct/metrics.ts";
import { StepError } from "../../../runners/fn/step-error.ts";
import { combinePerKey, sumFn } from "../../../transforms/combine.ts";
import { assertThat } from "../../../transforms/passert.ts";
import { read } from "../../../transforms/read.ts";
import { statefulParDo } from "../../../transforms/stateful-par-do.ts";
import { window } from "../../../transforms/window-into.ts";

const kv = <V>(key: string, value: V, timestamp: number) => ({ value: [key, value] as KV<string, V>, timestamp });

describe("stateful DoFns: state cells", () => {
  it("value, bag, combining, map and ordered-list state are kept per key and window", async () => {
    const stream = TestStream.create<KV<string, number>>()
      .addElements(kv("a", 3, 1), kv("a", 1, 2), kv("b", 10, 3), kv("a", 2, 12))
      .advanceWatermarkToInfinity();
    const p = Pipeline.create();
    const out = assertThat(
      p
        .apply(read(stream))
        .apply(window<KV<string, number>>(fixed(10)))
        .apply(
          statefulParDo<string, number, string, ReturnType<typeof specs>>({
            state: specs(),
            process([key, v], ctx) {
              const s = ctx.state;
              s.last.write(v);
              s.all.add(v);
              s.total.add(v);
              s.seen.put(`v${v}`, ctx.timestamp);
              s.sorted.add(v, v);
              ctx.output(
                `${key}${ctx.window}: last=${s.last.read()} all=${s.all.read().join(",")} total=${s.total.read()} ` +
                  `seen=${s.seen.size()} sorted=${s.sorted
                    .read()
                    .map((e) => e.value)
                    .join(",")}`,
              );
            },
          }),
        ),
    );
    await new DirectRunner().run(p);
    expect(out.everything().values()).toEqual([
      "a[0, 10): last=3 all=3 total=3 seen=1 sorted=3",
      "a[0, 10): last=1 all=3,1 total=4 seen=2 sorted=1,3",
      "b[0, 10): last=10 all=10 total=10 seen=1 sorted=10",
      "a[10, 20): last=2 all=2 total=2 seen=1 sorted=2",
    ]);
  });

  it("ordered-list ranges and map removal work as documented", async () => {
    const stream = TestStream.create<KV<string, number>>()
      .addElements(kv("k", 5, 5), kv("k", 1, 1), kv("k", 9, 9), kv("k", 3, 3))
      .advanceWatermarkToInfinity();
    const p = Pipeline.create();
    const out = assertThat(
      p.apply(read(stream)).apply(
        statefulParDo<
          string,
          number,
          string,
          { l: ReturnType<typeof orderedListState<number>>; m: ReturnType<typeof mapState<string, number>> }
        >({
          state: { l: orderedListState<number>(), m: mapState<string, number>() },
          process([, v], ctx) {
            ctx.state.l.add(v, v);
            ctx.state.m.put(String(v), v);
            if (v === 3) {
              const range = ctx.state.l.readRange(2, 6).map((e) => e.value);
              ctx.state.l.clearRange(0, 4);
              ctx.state.m.remove("1");
              ctx.output(
                `${range.join(",")}|${ctx.state.l
                  .read()
                  .map((e) => e.value)
                  .join(",")}|${ctx.state.m.has("1")}`,
              );
            }
          },
        }),
      ),
    );
    await new DirectRunner().run(p);
    expect(out.everything().values()).toEqual(["3,5|5,9|false"]);
  });
});

function specs() {
  return {
    last: valueState<number>(),
    all: bagState<number>(),
    total: combiningState(sumFn),
    seen: mapState<string, number>(),
    sorted: orderedListState<number>(),
  };
}

describe("stateful DoFns: set and multimap state, and where state cannot run", () => {
  it("set state keeps distinct values; multimap state keeps several values per key", async () => {
    const stream = TestStream.create<KV<string, string>>()
      .addElements(kv("k", "a:1", 1), kv("k", "b:2", 2), kv("k", "a:3", 3), kv("k", "a:1", 4))
      .advanceWatermarkToInfinity();
    const p = Pipeline.create();
    const out = assertThat(
      p.apply(read(stream)).apply(
        statefulParDo<
          string,
          string,
          string,
          { seen: SetStateSpec<string>; byLetter: MultimapStateSpec<string, number> }
        >({
          state: { seen: setState<string>(), byLetter: multimapState<string, number>() },
          process([, v], ctx) {
            ctx.state.seen.add(v);
            const [letter, n] = v.split(":") as [string, string];
            ctx.state.byLetter.put(letter, Number(n));
            if (ctx.timestamp === 4) {
              ctx.state.byLetter.remove("b");
              ctx.output(
                `${ctx.state.seen.size()} ${ctx.state.seen.contains("b:2")} a=${ctx.state.byLetter.get("a").join(",")} keys=${ctx.state.byLetter.keys().join(",")}`,
              );
            }
          },
        }),
      ),
    );
    await new DirectRunner().run(p);
    expect(out.everything().values()).toEqual(["3 true a=1,3,1 keys=a"]);
  });

  it("a stateful DoFn on session windows is refused when the pipeline is built", () => {
    const p = Pipeline.create();
    const input = p
      .apply(read(TestStream.create<KV<string, number>>()))
      .apply(window<KV<string, number>>(sessions(10)));
    expect(() => input.apply(statefulParDo<string, number, never>({ process() {} }), "OnSessions")).toThrow(
      /OnSessions: a stateful DoFn cannot run on merging windows/,
    );
  });
});

describe("stateful DoFns: timers", () => {
  it("event-time timers fire once the watermark is past them, in time order; they can be reset and cleared", async () => {
    const stream = TestStream.create<KV<string, string>>()
      .addElements(kv("k", "set 30", 1), kv("k", "set 20", 2), kv("k", "reset 20 to 25", 3), kv("k", "clear 30", 4))
      .advanceWatermarkTo(24)
      .addElements(kv("k", "probe", 24))
      .advanceWatermarkTo(40)
      .advanceWatermarkToInfinity();
    const p = Pipeline.create();
    const fired: string[] = [];
    p.apply(read(stream)).apply(
      statefulParDo<string, string, never, Record<never, never>, { a: ReturnType<typeof timerFamily> }>({
        timers: { a: timerFamily("event") },
        process([, cmd], ctx) {
          if (cmd === "set 30") ctx.timers.a.get("x").set(30);
          if (cmd === "set 20") ctx.timers.a.get("y").set(20);
          if (cmd === "reset 20 to 25") ctx.timers.a.get("y").set(25);
          if (cmd === "clear 30") ctx.timers.a.get("x").clear();
          if (cmd === "probe")
            fired.push(`probe at watermark ${ctx.inputWatermark}: y at ${ctx.timers.a.get("y").time()}`);
        },
        onTimer: {
          a(ctx) {
            fired.push(`${ctx.timerId} fired at ${ctx.firingTime} (watermark ${ctx.inputWatermark})`);
          },
        },
      }),
    );
    await new DirectRunner().run(p);
    expect(fired).toEqual(["probe at watermark 24: y at 25", "y fired at 25 (watermark 40)"]);
  });

  it("processing-time timers fire when the clock passes them; a timer's output timestamp holds the watermark downstream", async () => {
    const stream = TestStream.create<KV<string, number>>()
      .advanceProcessingTimeTo(1_000)
      .addElements(kv("k", 1, 5))
      .advanceWatermarkTo(50) // the timer holds the stage's output watermark at 5: [0,10) downstream is not complete
      .advanceProcessingTimeTo(1_100) // the flush timer (1_050) fires and outputs at 5; the hold goes, [0,10) fires
      .advanceWatermarkToInfinity();
    const p = Pipeline.create();
    const buffered = p
      .apply(read(stream))
      .apply(window<KV<string, number>>(fixed(10), { allowedLatenessMs: 1_000 }))
      .apply(
        statefulParDo<
          string,
          number,
          KV<string, number>,
          { buf: ReturnType<typeof bagState<number>> },
          { flush: ReturnType<typeof processingTimer> }
        >({
          state: { buf: bagState<number>() },
          timers: { flush: processingTimer() },
          process([, v], ctx) {
            ctx.state.buf.add(v);
            ctx.timers.flush.set(ctx.processingTime + 50);
          },
          onTimer: {
            flush(ctx) {
              for (const v of ctx.state.buf.read()) ctx.output([ctx.key, v]);
              ctx.state.buf.clear();
            },
          },
        }),
      );
    const summed = assertThat(buffered.apply(combinePerKey<string, number, number, number>(sumFn)));
    await new DirectRunner().run(p);
    const pane = summed.inOnTimePane([0, 10]);
    pane.containsInAnyOrder(["k", 1]);
    expect(summed.all()).toHaveLength(1);
  });

  it("setRelative: event timers from the element's timestamp, processing timers from now, offset and aligned", async () => {
    const stream = TestStream.create<KV<string, number>>()
      .advanceProcessingTimeTo(1_234)
      .addElements(kv("k", 0, 42))
      .advanceWatermarkToInfinity();
    const p = Pipeline.create();
    const times: string[] = [];
    p.apply(read(stream)).apply(
      statefulParDo<string, number, never, Record<never, never>, { e: TimerSpec; q: TimerSpec }>({
        timers: { e: eventTimer(), q: processingTimer() },
        process(_, ctx) {
          ctx.timers.e.setRelative({ offsetMs: 10, alignToMs: 25 }); // 42 + 10 = 52, aligned up to 75
          ctx.timers.q.setRelative({ offsetMs: 100 }); // 1_234 + 100
          times.push(`e=${ctx.timers.e.time()} q=${ctx.timers.q.time()}`);
        },
        onTimer: { e() {}, q() {} },
      }),
    );
    await new DirectRunner().run(p);
    expect(times).toEqual(["e=75 q=1334"]);
  });

  it("a timer beyond the window's expiry is refused with a clear error", async () => {
    const stream = TestStream.create<KV<string, number>>()
      .addElements(kv("k", 1, 5))
      .advanceWatermarkToInfinity();
    const p = Pipeline.create();
    p.apply(read(stream))
      .apply(window<KV<string, number>>(fixed(10)))
      .apply(
        statefulParDo<string, number, never, Record<never, never>, { t: ReturnType<typeof eventTimer> }>({
          timers: { t: eventTimer() },
          process(_, ctx) {
            ctx.timers.t.set(100);
          },
          onTimer: { t() {} },
        }),
        "Late",
      );
    const err = await new DirectRunner().run(p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as Error).message).toMatch(/Late.*timer "t" set for .*after the expiry of window \[0, 10\)/);
  });

  it("a timer without an onTimer handler is refused when the pipeline is built", () => {
    const p = Pipeline.create();
    const input = p.apply(read(TestStream.create<KV<string, number>>()));
    expect(() =>
      input.apply(
        statefulParDo<string, number, never, Record<never, never>, { t: ReturnType<typeof eventTimer> }>({
          timers: { t: eventTimer() },
          process() {},
        }),
        "NoHandler",
      ),
    ).toThrow(/NoHandler: timer "t" has no onTimer.t handler/);
  });
});

describe("stateful DoFns: uses", () => {
  it("de-duplicates re-delivered messages by id within a time bound, then forgets the id", async () => {
    // Messages keyed by id; a re-delivery within 60 s is dropped; the id is forgotten after 60 s of event time.
    const stream = TestStream.create<KV<string, string>>()
      .addElements(kv("m1", "first", 1_000), kv("m2", "second", 2_000), kv("m1", "again", 3_000))
      .advanceWatermarkTo(30_000)
      .addElements(kv("m1", "again later", 31_000))
      .advanceWatermarkTo(100_000) // m1's id expires at 61_000
      .addElements(kv("m1", "after the bound", 100_500))
      .advanceWatermarkToInfinity();
    const p = Pipeline.create();
    const out = assertThat(
      p.apply(read(stream)).apply(
        statefulParDo<
          string,
          string,
          string,
          { seen: ReturnType<typeof valueState<boolean>> },
          { forget: ReturnType<typeof eventTimer> }
        >({
          state: { seen: valueState<boolean>() },
          timers: { forget: eventTimer() },
          process([id, body], ctx) {
            if (ctx.state.seen.read()) return;
            ctx.state.seen.write(true);
            ctx.timers.forget.set(ctx.timestamp + 60_000);
            ctx.output(`${id}:${body}`);
          },
          onTimer: {
            forget(ctx) {
              ctx.state.seen.clear();
            },
          },
        }),
      ),
    );
    await new DirectRunner().run(p);
    out.everything().containsInAnyOrder("m1:first", "m2:second", "m1:after the bound");
  });

  it("a buffering DoFn emits each key's elements in event-time order as the watermark passes them", async () => {
    const stream = TestStream.create<KV<string, number>>()
      .addElements(kv("k", 30, 30), kv("k", 10, 10), kv("j", 5, 5))
      .advanceWatermarkTo(20)
      .addElements(kv("k", 25, 25), kv("k", 40, 40), kv("j", 1, 21))
      .advanceWatermarkToInfinity();
    const p = Pipeline.create();
    const out = assertThat(
      p.apply(read(stream)).apply(
        statefulParDo<
          string,
          number,
          string,
          { buf: ReturnType<typeof orderedListState<number>> },
          { flush: ReturnType<typeof eventTimer> }
        >({
          state: { buf: orderedListState<number>() },
          timers: { flush: eventTimer() },
          process([, v], ctx) {
            ctx.state.buf.add(ctx.timestamp, v);
            const first = ctx.state.buf.read()[0];
            if (first) ctx.timers.flush.set(first.timestamp);
          },
          onTimer: {
            flush(ctx) {
              const due = ctx.state.buf.readRange(Number.MIN_SAFE_INTEGER, ctx.inputWatermark);
              for (const e of due) ctx.outputWithTimestamp(`${ctx.key}${e.value}`, e.timestamp);
              ctx.state.buf.clearRange(Number.MIN_SAFE_INTEGER, ctx.inputWatermark);
              const next = ctx.state.buf.read()[0];
              if (next) ctx.timers.flush.set(next.timestamp);
            },
          },
        }),
      ),
    );
    await new DirectRunner().run(p);
    const k = out
      .all()
      .filter((e) => (e.value as string).startsWith("k"))
      .map((e) => e.value);
    expect(k).toEqual(["k10", "k25", "k30", "k40"]);
    expect(
      out
        .all()
        .filter((e) => (e.value as string).startsWith("j"))
        .map((e) => e.value),
    ).toEqual(["j5", "j1"]);
  });

  it("a sessionizer written with state and timers gives the same sessions as sessions(gap) on the same stream", async () => {
    const gen = createSessionStream({ totalEvents: 4_000, users: 40, seed: 3, chunkSize: 256 });
    let stream = TestStream.create<KV<string, number>>();
    for (const chunk of gen.chunks()) {
      const elements = Array.from({ length: chunk.length }, (_, i) =>
        kv(gen.userIds[chunk.userIndex[i] as number] as string, 1, chunk.eventTimeMs[i] as number),
      );
      stream = stream.addElements(...elements).advanceWatermarkTo(chunk.watermarkMs);
    }
    stream = stream.advanceWatermarkToInfinity();
    const gapMs = 30 * 60_000;
    const p = Pipeline.create();
    const events = p.apply(read(stream));
    const viaWindows = assertThat(
      events
        .apply(window<KV<string, number>>(sessions(gapMs)))
        .apply(combinePerKey<string, number, number, number>(sumFn)),
    );
    type Session = { start: number; end: number; count: number };
    const viaState = assertThat(
      events.apply(
        statefulParDo<
          string,
          number,
          string,
          { open: ReturnType<typeof valueState<Session[]>> },
          { close: ReturnType<typeof eventTimer> }
        >({
          state: { open: valueState<Session[]>() },
          timers: { close: eventTimer() },
          process(_, ctx) {
            const t = ctx.timestamp;
            let merged: Session = { start: t, end: t + gapMs, count: 1 };
            const rest: Session[] = [];
            for (const s of ctx.state.open.read() ?? []) {
              if (s.start < merged.end && merged.start < s.end) {
                merged = {
                  start: Math.min(s.start, merged.start),
                  end: Math.max(s.end, merged.end),
                  count: s.count + merged.count,
                };
              } else rest.push(s);
            }
            rest.push(merged);
            ctx.state.open.write(rest);
            ctx.timers.close.set(Math.min(...rest.map((s) => s.end)) - 1);
          },
          onTimer: {
            close(ctx) {
              const open: Session[] = [];
              for (const s of ctx.state.open.read() ?? []) {
                if (s.end - 1 < ctx.inputWatermark) ctx.output(`${ctx.key} [${s.start}, ${s.end}) ${s.count}`);
                else open.push(s);
              }
              ctx.state.open.write(open);
              if (open.length > 0) ctx.timers.close.set(Math.min(...open.map((s) => s.end)) - 1);
            },
          },
        }),
      ),
    );
    await new DirectRunner().run(p);
    const expected = viaWindows
      .all()
      .map((e) => `${(e.value as KV<string, number>)[0]} ${e.window} ${(e.value as KV<string, number>)[1]}`);
    expect(expected.length).toBeGreaterThan(100);
    expect(viaState.everything().values().sort()).toEqual(expected.sort());
  });
});

describe("stateful DoFns: tagged outputs", () => {
  it("outputs to tagged outputs from process and from timers; an undeclared tag fails clearly", async () => {
    const stream = TestStream.create<KV<string, number>>()
      .addElements(kv("k", 1, 1), kv("k", -2, 2), kv("k", 3, 3))
      .advanceWatermarkToInfinity();
    const p = Pipeline.create();
    const outs = p.apply(read(stream)).apply(
      statefulParDo<
        string,
        number,
        number,
        Record<never, never>,
        { done: TimerSpec },
        { negative: string; summary: string }
      >({
        timers: { done: eventTimer() },
        process([, v], ctx) {
          if (v < 0) ctx.outputTo("negative", `negative ${v}`);
          else ctx.output(v);
          ctx.timers.done.set(10);
        },
        onTimer: {
          done(ctx) {
            ctx.outputTo("summary", `done for ${ctx.key} at ${ctx.timestamp}`);
          },
        },
      }).withOutputs("negative", "summary"),
    );
    const main = assertThat(outs.main, "Main");
    const negative = assertThat(outs.negative, "Negative");
    const summary = assertThat(outs.summary, "Summary");
    await new DirectRunner().run(p);
    main.everything().containsInAnyOrder(1, 3);
    negative.everything().containsInAnyOrder("negative -2");
    summary.everything().containsInAnyOrder("done for k at 10");

    const q = Pipeline.create();
    q.apply(read(TestStream.create<KV<string, number>>().addElements(kv("k", 1, 1)))).apply(
      statefulParDo<string, number, number, Record<never, never>, Record<never, never>, { extra: number }>({
        process([, v], ctx) {
          ctx.outputTo("extra", v);
        },
      }),
      "Undeclared",
    );
    await expect(new DirectRunner().run(q)).rejects.toThrow(/Undeclared.*output tag "extra" was not declared/);
  });
});

describe("stateful DoFns: time-sorted input", () => {
  it("requiresTimeSortedInput delivers each key's elements in timestamp order once the watermark passes them", async () => {
    const stream = TestStream.create<KV<string, number>>()
      .addElements(kv("k", 30, 30), kv("k", 10, 10), kv("j", 7, 7))
      .advanceWatermarkTo(20) // 10 and 7 are due; 30 waits
      .addElements(kv("k", 25, 25), kv("k", 15, 15)) // 15 is behind the watermark: dropped (no allowed lateness)
      .advanceWatermarkToInfinity();
    const p = Pipeline.create();
    const order: string[] = [];
    p.apply(read(stream)).apply(
      statefulParDo<string, number, never, { last: ValueStateSpec<number> }>({
        requiresTimeSortedInput: true,
        state: { last: valueState<number>() },
        process([key, v], ctx) {
          const last = ctx.state.last.read();
          if (last !== undefined && last > v) throw new Error(`out of order: ${v} after ${last}`);
          ctx.state.last.write(v);
          order.push(`${key}${v}@wm${ctx.inputWatermark}`);
        },
      }),
      "Sorted",
    );
    const metrics = await new DirectRunner().run(p);
    expect(order).toEqual(["j7@wm20", "k10@wm20", "k25@wm" + MAX_TIMESTAMP, "k30@wm" + MAX_TIMESTAMP]);
    expect(stepMetrics(metrics, "Sorted").droppedLate).toBe(1);
  });
});

describe("stateful DoFns: lifetime", () => {
  it("state is cleared when its window expires; data for an expired window is dropped and counted", async () => {
    const stream = TestStream.create<KV<string, number>>()
      .addElements(kv("a", 1, 1), kv("b", 2, 2))
      .advanceWatermarkTo(25) // [0,10) + lateness 5 expires at 14
      .addElements(kv("a", 3, 3), kv("a", 4, 21))
      .advanceWatermarkToInfinity();
    const p = Pipeline.create();
    const seen: string[] = [];
    p.apply(read(stream))
      .apply(window<KV<string, number>>(fixed(10), { allowedLatenessMs: 5 }))
      .apply(
        statefulParDo<string, number, never, { n: ReturnType<typeof combiningState<number, number, number>> }>({
          state: { n: combiningState(sumFn) },
          process([key, v], ctx) {
            ctx.state.n.add(v);
            seen.push(`${key}${ctx.window}=${ctx.state.n.read()}`);
          },
          onWindowExpiration(ctx) {
            seen.push(`expire ${ctx.key}${ctx.window} n=${ctx.state.n.read()}`);
          },
        }),
        "Count",
      );
    const running = new DirectRunner().start(p);
    const metrics = await running.waitUntilFinish();
    expect(seen).toEqual([
      "a[0, 10)=1",
      "b[0, 10)=2",
      "expire a[0, 10) n=1",
      "expire b[0, 10) n=2",
      "a[20, 30)=4",
      "expire a[20, 30) n=4",
    ]);
    const m = stepMetrics(metrics, "Count");
    expect(m.droppedLate).toBe(1);
    expect(m.windows).toBe(0);
    expect(new IntervalWindow(0, 10).maxTimestamp).toBe(9);
  });
});
