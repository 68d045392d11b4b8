import { describe, expect, it } from "vitest";
import type { KV } from "../../../core/kv.ts";
import { Pipeline } from "../../../core/pipeline.ts";
import { bagState, eventTimer, processingTimer, type TimerSpec, valueState } from "../../../core/state.ts";
import { afterCount, repeatedly } from "../../../core/triggers/trigger.ts";
import { fixed, globalWindows } from "../../../core/windows/window-fn.ts";
import { TestStream } from "../../../io/test-stream/test-stream.ts";
import { DirectRunner } from "../../../runners/direct/direct-runner.ts";
import { stepMetrics } from "../../../runners/direct/metrics.ts";
import { combinePerKey, sumFn } from "../../../transforms/combine.ts";
import { filter, map } from "../../../transforms/element-wise.ts";
import { parDo } from "../../../transforms/par-do.ts";
import { assertThat } from "../../../transforms/passert.ts";
import { read } from "../../../transforms/read.ts";
import { asIterable, asMultimap } from "../../../transforms/side-inputs.ts";
import { statefulParDo } from "../../../transforms/stateful-par-do.ts";
import { window } from "../../../transforms/window-into.ts";

const kv = <V>(key: string, value: V, timestamp: number) => ({ value: [key, value] as KV<string, V>, timestamp });

describe("review findings: stateful DoFns", () => {
  // Beam: SimpleDoFnRunner.TimerInternalsTimer#setAndVerifyOutputTimestamp only checks the output timestamp against
  // the element's timestamp minus the allowed skew and against the window's expiry; there is no check against the
  // stage's output watermark. An element that is behind the watermark but inside the allowed lateness may set an
  // event-time timer (e.g. at the end of its window) and a processing-time timer (output timestamp = the element's
  // timestamp). Tidemark throws "output timestamp ... is before the output watermark" (stateful-runner.ts:308).
  it("a late-but-allowed element may set an event-time timer at its window's end (Beam: allowed, fires)", async () => {
    const stream = TestStream.create<KV<string, number>>()
      .addElements(kv("k", 1, 1))
      .advanceWatermarkTo(50) // [0,10) is past its end, but not expired (lateness 100)
      .addElements(kv("k", 2, 2)) // late, within the allowed lateness
      .advanceWatermarkToInfinity();
    const p = Pipeline.create();
    const fired: string[] = [];
    p.apply(read(stream))
      .apply(window<KV<string, number>>(fixed(10), { allowedLatenessMs: 100 }))
      .apply(
        statefulParDo<string, number, never, Record<never, never>, { end: TimerSpec }>({
          timers: { end: eventTimer() },
          process(_, ctx) {
            ctx.timers.end.set(ctx.window.maxTimestamp);
          },
          onTimer: {
            end(ctx) {
              fired.push(`end at wm ${ctx.inputWatermark}`);
            },
          },
        }),
        "EndOfWindow",
      );
    await new DirectRunner().run(p);
    // The first element's timer fires at watermark 50; the late element's timer (behind the watermark) fires next.
    expect(fired).toHaveLength(2);
    expect(fired[0]).toBe("end at wm 50");
  });

  it("a late element in the global window may set a processing-time timer (Beam: hold = element timestamp, allowed)", async () => {
    const stream = TestStream.create<KV<string, number>>()
      .advanceProcessingTimeTo(1_000)
      .advanceWatermarkTo(100)
      .addElements(kv("k", 7, 5)) // behind the watermark; the global window never expires
      .advanceProcessingTimeTo(2_000)
      .advanceWatermarkToInfinity();
    const p = Pipeline.create();
    const out = assertThat(
      p.apply(read(stream)).apply(
        statefulParDo<string, number, number, { buf: ReturnType<typeof bagState<number>> }, { flush: TimerSpec }>({
          state: { buf: bagState<number>() },
          timers: { flush: processingTimer() },
          process([, v], ctx) {
            ctx.state.buf.add(v);
            ctx.timers.flush.setRelative({ offsetMs: 10 });
          },
          onTimer: {
            flush(ctx) {
              for (const v of ctx.state.buf.read()) ctx.output(v);
              ctx.state.buf.clear();
            },
          },
        }),
        "Batch",
      ),
    );
    await new DirectRunner().run(p);
    out.everything().containsInAnyOrder(7);
  });

  // Beam: the direct runner's WatermarkManager recomputes a step's output watermark after every committed bundle,
  // timer bundles included: output = min(input watermark, remaining holds). When a processing-time timer fires and
  // its hold goes, the output watermark moves at once. Tidemark recomputes it only in advanceInputWatermark
  // (stateful-runner.ts:147), so it stays held until the *input* watermark moves again.
  it("the output watermark moves when a processing-time timer fires and releases its hold", async () => {
    const stream = TestStream.create<KV<string, number>>()
      .advanceProcessingTimeTo(1_000)
      .addElements(kv("k", 1, 5))
      .advanceWatermarkTo(50) // held at 5 by the flush timer
      .advanceProcessingTimeTo(1_100) // step 3: flush fires at 1_050; its hold at 5 goes; the window's own hold stays
      .advanceWatermarkTo(60)
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
          { flush: TimerSpec }
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
        "Flush",
      );
    const summed = assertThat(buffered.apply(combinePerKey<string, number, number, number>(sumFn)));
    const afterStep: string[] = [];
    const running = new DirectRunner().start(p, {
      onStep: ({ index }) => {
        if (index === 3) {
          afterStep.push(`flush out wm ${stepMetrics(running.metrics(), "Flush").outputWatermark}`);
          afterStep.push(`summed ${summed.all().length}`);
        }
      },
    });
    await running.waitUntilFinish();
    // The timer's hold (5) is released as soon as it fires: the output watermark moves up to the window's cleanup
    // hold at its max timestamp (9), where it stays until the window expires (Beam's cleanup timer, see below).
    expect(afterStep).toEqual(["flush out wm 9", "summed 0"]);
  });

  // Beam: StatefulDoFnRunner.TimeInternalsCleanupTimer#setForWindow sets the GC timer at gcTime + 1 with output
  // timestamp window.maxTimestamp(), so the stage's output watermark is held at the window's max timestamp until the
  // window's state is cleaned up (and onWindowExpiration has run). What onWindowExpiration outputs (at the window's
  // max timestamp) is therefore on time downstream. Tidemark keeps no such hold (stateful-runner.ts:147, 233): with
  // allowed lateness the output watermark passes the window's end long before expiry, and the output lands in a
  // late pane downstream.
  it("onWindowExpiration's output is held for: it is on time downstream (Beam's GC-timer hold at maxTimestamp)", async () => {
    const stream = TestStream.create<KV<string, number>>()
      .addElements(kv("k", 1, 1), kv("k", 2, 2))
      .advanceWatermarkTo(50) // past [0,10)'s end; not expired (lateness 100)
      .advanceWatermarkToInfinity();
    const p = Pipeline.create();
    const counted = p
      .apply(read(stream))
      .apply(window<KV<string, number>>(fixed(10), { allowedLatenessMs: 100 }))
      .apply(
        statefulParDo<string, number, KV<string, number>, { n: ReturnType<typeof valueState<number>> }>({
          state: { n: valueState<number>() },
          process([, v], ctx) {
            ctx.state.n.write((ctx.state.n.read() ?? 0) + v);
          },
          onWindowExpiration(ctx) {
            ctx.output([ctx.key, ctx.state.n.read() ?? 0]);
          },
        }),
        "Expire",
      );
    const summed = assertThat(counted.apply(combinePerKey<string, number, number, number>(sumFn)));
    const wmAfterStep1: number[] = [];
    const running = new DirectRunner().start(p, {
      onStep: ({ index }) => {
        if (index === 1) wmAfterStep1.push(stepMetrics(running.metrics(), "Expire").outputWatermark);
      },
    });
    await running.waitUntilFinish();
    expect(wmAfterStep1[0]).toBeLessThanOrEqual(9);
    summed.inOnTimePane([0, 10]).containsInAnyOrder(["k", 3]);
  });

  // Beam: SimpleDoFnRunner#setAndVerifyOutputTimestamp rejects an event-time timer whose output timestamp is after
  // the window's expiry ("Attempted to set an event-time timer with an output timestamp of %s that is after the
  // expiration of window %s"). Tidemark only checks the firing time (stateful-runner.ts:301), so the timer fires
  // and outputs an element of [0,10) at timestamp 500, outside its window.
  it("an event-time timer whose output timestamp is after the window's expiry is refused", async () => {
    const stream = TestStream.create<KV<string, number>>()
      .addElements(kv("k", 1, 5))
      .advanceWatermarkToInfinity();
    const p = Pipeline.create();
    p.apply(read(stream))
      .apply(window<KV<string, number>>(fixed(10)))
      .apply(
        statefulParDo<string, number, number, Record<never, never>, { t: TimerSpec }>({
          timers: { t: eventTimer() },
          process(_, ctx) {
            ctx.timers.t.set(9, { outputTimestamp: 500 });
          },
          onTimer: {
            t(ctx) {
              ctx.output(ctx.timestamp);
            },
          },
        }),
        "FarHold",
      );
    await expect(new DirectRunner().run(p)).rejects.toThrow(/FarHold.*output timestamp.*after the expir/);
  });
});

describe("review findings: side inputs", () => {
  type Msg = { readonly side: boolean; readonly v: number };
  const sideMsg = (v: number, timestamp: number) => ({ value: { side: true, v } as Msg, timestamp });
  const mainMsg = (v: number, timestamp: number) => ({ value: { side: false, v } as Msg, timestamp });

  // Beam (programming guide, "Side inputs and windowing": a triggered side input shows the latest firing; the direct
  // runner's SideInputContainer replaces a window's contents when a pane with a higher index arrives). With
  // accumulating panes, pane 1 already contains pane 0's values: the multimap must not show them twice. Tidemark
  // appends every pane's values to the key (view-store.ts:153-155), so the key reads [1, 1, 2].
  it("a multimap view of an accumulating triggered side input does not repeat earlier panes' values", async () => {
    const stream = TestStream.create<Msg>()
      .addElements(sideMsg(1, 1))
      .addElements(sideMsg(2, 2))
      .addElements(mainMsg(0, 3))
      .advanceWatermarkToInfinity();
    const p = Pipeline.create();
    const all = p.apply(read(stream));
    const sideVals = all
      .apply(filter((m: Msg) => m.side, "Side"))
      .apply(map((m: Msg) => ["k", m.v] as KV<string, number>, "SideKv"))
      .apply(
        window<KV<string, number>>(globalWindows(), {
          trigger: repeatedly(afterCount(1)),
          accumulation: "accumulating",
        }),
      );
    // The view is materialized by a grouping with the side input's own (accumulating, repeated) trigger: its pane 0
    // holds [1], its pane 1 holds [1, 2] and replaces pane 0, so the key reads [1, 2], not [1, 1, 2]. (Grouping the
    // side input again before the view, in accumulating mode, would legitimately re-count, in Beam too.)
    const view = sideVals.apply(asMultimap<string, number>());
    const out = assertThat(
      all.apply(filter((m: Msg) => !m.side, "Main")).apply(
        parDo<Msg, string>({
          process(_, ctx) {
            ctx.output([...(ctx.sideInput(view).get("k") ?? [])].sort().join(","));
          },
        }).withSideInputs(view),
      ),
    );
    await new DirectRunner().run(p);
    out.everything().containsInAnyOrder("1,2");
  });

  // Beam: GlobalWindows main input with a non-global side input has no window mapping — the side WindowFn's
  // getDefaultWindowMappingFn throws IllegalArgumentException("Attempted to get side input window for GlobalWindow
  // from non-global WindowFn") (FixedWindows/SlidingWindows). Tidemark maps the global window to the fixed window
  // holding END_OF_GLOBAL_WINDOW (window-mapping.ts:15-16), pushes the element back until end of input, and then
  // silently reads an empty window.
  it("a global-window main input with a fixed-window side input is refused", async () => {
    const stream = TestStream.create<Msg>()
      .addElements(sideMsg(1, 1))
      .addElements(mainMsg(0, 3))
      .advanceWatermarkToInfinity();
    // Refusing it when the pipeline is built or when it runs are both fine.
    const build = async () => {
      const p = Pipeline.create();
      const all = p.apply(read(stream));
      const view = all
        .apply(filter((m: Msg) => m.side, "Side"))
        .apply(map((m: Msg) => m.v, "SideV"))
        .apply(window<number>(fixed(10)), "WindowSide")
        .apply(asIterable<number>());
      all.apply(filter((m: Msg) => !m.side, "Main")).apply(
        parDo<Msg, string>({
          process(_, ctx) {
            ctx.output([...ctx.sideInput(view)].join(","));
          },
        }).withSideInputs(view),
        "Reader",
      );
      return new DirectRunner().run(p);
    };
    await expect(build()).rejects.toThrow(/global/i);
  });
});
