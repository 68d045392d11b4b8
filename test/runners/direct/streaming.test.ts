import { describe, expect, it } from "vitest";
import type { KV } from "../../../core/kv.ts";
import { Pipeline } from "../../../core/pipeline.ts";
import { MAX_TIMESTAMP } from "../../../core/time/instant.ts";
import { afterCount, afterProcessingTime, afterWatermark, repeatedly } from "../../../core/triggers/trigger.ts";
import type { AccumulationMode } from "../../../core/windowing-strategy.ts";
import { fixed, globalWindows, sessions } from "../../../core/windows/window-fn.ts";
import { TestStream } from "../../../io/test-stream/test-stream.ts";
import { DirectRunner } from "../../../runners/direct/direct-runner.ts";
import { stepMetrics } from "../../../runners/direct/metrics.ts";
import { sum } from "../../../transforms/combine.ts";
import { map } from "../../../transforms/element-wise.ts";
import { flattenAll } from "../../../transforms/flatten.ts";
import { groupByKey } from "../../../transforms/group-by-key.ts";
import { parDo } from "../../../transforms/par-do.ts";
import { assertThat } from "../../../transforms/passert.ts";
import { read } from "../../../transforms/read.ts";
import { window } from "../../../transforms/window-into.ts";

type Score = KV<string, number>;
const at = (key: string, v: number, timestamp: number) => ({ value: [key, v] as Score, timestamp });

describe("DirectRunner with TestStream", () => {
  it("at the end of bounded input every window fires its final pane", async () => {
    const p = Pipeline.create();
    const sums = assertThat(
      p
        .apply(read(TestStream.create<Score>().addElements(at("a", 1, 1), at("a", 2, 12), at("b", 3, 105))))
        .apply(window(fixed(10)))
        .apply(sum.perKey<string>()),
    );
    await new DirectRunner().run(p);
    sums.inFinalPane([0, 10]).containsInAnyOrder(["a", 1]);
    sums.inFinalPane([10, 20]).containsInAnyOrder(["a", 2]);
    sums.inFinalPane([100, 110]).containsInAnyOrder(["b", 3]);
    expect(sums.all().map((e) => e.pane.timing)).toEqual(["ON_TIME", "ON_TIME", "ON_TIME"]);
  });

  it("a global window with a trigger emits its on-time pane only at the end of input", async () => {
    const p = Pipeline.create();
    const sums = assertThat(
      p
        .apply(
          read(
            TestStream.create<Score>()
              .addElements(at("a", 1, 1))
              .advanceWatermarkTo(1_000_000)
              .addElements(at("a", 2, 5)),
          ),
        )
        .apply(window(globalWindows(), { trigger: repeatedly(afterCount(1)), accumulation: "accumulating" }))
        .apply(sum.perKey<string>()),
    );
    await new DirectRunner().run(p);
    sums.inEarlyPanes("global").containsInAnyOrder(["a", 1], ["a", 3]);
    sums.inOnTimePane("global").containsInAnyOrder(["a", 3]);
    expect(sums.inFinalPane("global").single()).toEqual(["a", 3]);
  });

  describe.each<[AccumulationMode, [number, number, number, number]]>([
    ["discarding", [3, 4, 5, 6]],
    ["accumulating", [3, 7, 12, 18]],
  ])("early, on-time and late panes (%s)", (accumulation, sums) => {
    it("afterWatermark({ early: afterCount(2), late: afterCount(1) })", async () => {
      const stream = TestStream.create<Score>()
        .addElements(at("k", 1, 1), at("k", 2, 2)) // early pane
        .addElements(at("k", 4, 3))
        .advanceWatermarkTo(10) // on-time pane
        .addElements(at("k", 5, 4)) // late pane
        .advanceWatermarkTo(50)
        .addElements(at("k", 6, 5)) // late pane
        .advanceWatermarkTo(200) // past expiry
        .addElements(at("k", 100, 6)); // dropped
      const p = Pipeline.create();
      const out = assertThat(
        p
          .apply(read(stream))
          .apply(
            window(fixed(10), {
              trigger: afterWatermark({ early: afterCount(2), late: afterCount(1) }),
              allowedLatenessMs: 100,
              accumulation,
            }),
          )
          .apply(sum.perKey<string>(), "Sum"),
      );
      const metrics = await new DirectRunner().run(p);
      out.inEarlyPanes([0, 10]).containsInAnyOrder(["k", sums[0]]);
      out.inOnTimePane([0, 10]).containsInAnyOrder(["k", sums[1]]);
      out.inLatePanes([0, 10]).containsInAnyOrder(["k", sums[2]], ["k", sums[3]]);
      expect(out.all().map((e) => [e.pane.index, e.pane.timing, e.pane.nonSpeculativeIndex, e.timestamp])).toEqual([
        [0, "EARLY", -1, 9],
        [1, "ON_TIME", 0, 9],
        [2, "LATE", 1, 9],
        [3, "LATE", 2, 9],
      ]);
      out.inFinalPane([0, 10]).isEmpty(); // expiry with nothing new emits no pane
      expect(stepMetrics(metrics, "Sum").droppedLate).toBe(1);
    });
  });

  it("an onStep that returns a promise pauses reading until it settles; a rejection ends the run with its error", async () => {
    const stream = TestStream.create<number>()
      .addElements({ value: 1, timestamp: 1 })
      .addElements({ value: 2, timestamp: 2 })
      .addElements({ value: 3, timestamp: 3 });
    const p = Pipeline.create();
    const seen: number[] = [];
    p.apply(read(stream)).apply(
      parDo<number, never>({
        process(v) {
          seen.push(v);
        },
      }),
    );
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const running = new DirectRunner().start(p, { onStep: ({ index }) => (index === 0 ? gate : undefined) });
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([1]);
    release();
    await running.waitUntilFinish();
    expect(seen).toEqual([1, 2, 3]);

    const p2 = Pipeline.create();
    p2.apply(read(stream));
    const failing = new DirectRunner().start(p2, {
      onStep: ({ index }) => (index === 1 ? Promise.reject(new Error("sink is down")) : undefined),
    });
    await expect(failing.waitUntilFinish()).rejects.toThrow("sink is down");
  });

  it("early panes on processing time, with the virtual clock", async () => {
    const stream = TestStream.create<Score>()
      .advanceProcessingTimeTo(1_000)
      .addElements(at("k", 1, 1))
      .advanceProcessingTime(5) // 1005: not past 1000 + 5
      .advanceProcessingTime(1) // 1006: early pane
      .addElements(at("k", 2, 2))
      .advanceWatermarkTo(10);
    const p = Pipeline.create();
    const out = assertThat(
      p
        .apply(read(stream))
        .apply(window(fixed(10), { trigger: afterWatermark({ early: afterProcessingTime(5) }) }))
        .apply(sum.perKey<string>()),
    );
    const steps: number[] = [];
    const running = new DirectRunner().start(p, { onStep: () => steps.push(out.all().length) });
    const metrics = await running.waitUntilFinish();
    expect(steps).toEqual([0, 0, 0, 1, 1, 2, 2]);
    out.inEarlyPanes([0, 10]).containsInAnyOrder(["k", 1]);
    out.inOnTimePane([0, 10]).containsInAnyOrder(["k", 2]);
    expect(metrics.processingTime).toBe(1_006);
  });

  it("sessions merge across bundles and fire when the watermark passes the merged end", async () => {
    const stream = TestStream.create<Score>()
      .addElements(at("u", 1, 1), at("u", 1, 15))
      .advanceWatermarkTo(5)
      .addElements(at("u", 1, 8)) // bridges [1,11) and [15,25)
      .advanceWatermarkTo(24)
      .advanceWatermarkTo(25);
    const p = Pipeline.create();
    const out = assertThat(
      p
        .apply(read(stream))
        .apply(window(sessions(10)))
        .apply(sum.perKey<string>()),
    );
    const counts: number[] = [];
    const running = new DirectRunner().start(p, { onStep: () => counts.push(out.all().length) });
    await running.waitUntilFinish();
    expect(counts).toEqual([0, 0, 0, 0, 1, 1]);
    out.inOnTimePane([1, 25]).containsInAnyOrder(["u", 3]);
  });

  it("a grouping after a grouping gets the first one's panes on time", async () => {
    const stream = TestStream.create<Score>()
      .addElements(at("a", 1, 1), at("b", 2, 2), at("a", 3, 13))
      .advanceWatermarkTo(10)
      .advanceWatermarkTo(20);
    const p = Pipeline.create();
    const perKey = p
      .apply(read(stream))
      .apply(window(fixed(10)))
      .apply(sum.perKey<string>(), "PerKey");
    const total = assertThat(
      perKey.apply(map(([, v]: Score): Score => ["all", v], "ReKey")).apply(sum.perKey<string>(), "Total"),
    );
    const seen: number[] = [];
    const running = new DirectRunner().start(p, { onStep: () => seen.push(total.all().length) });
    const m = await running.waitUntilFinish();
    expect(seen).toEqual([0, 1, 2, 2]);
    total.inOnTimePane([0, 10]).containsInAnyOrder(["all", 3]);
    total.inOnTimePane([10, 20]).containsInAnyOrder(["all", 3]);
    expect(total.all().every((e) => e.pane.timing === "ON_TIME" && e.pane.isLast)).toBe(true);
    expect(stepMetrics(m, "Total").droppedLate).toBe(0);
  });

  it("flattened streams: the watermark is the minimum of both inputs", async () => {
    const fast = TestStream.create<Score>("Fast")
      .addElements(at("k", 1, 1))
      .advanceWatermarkTo(100);
    const slow = TestStream.create<Score>("Slow")
      .addElements(at("k", 10, 5))
      .advanceWatermarkTo(3)
      .advanceWatermarkTo(6);
    const p = Pipeline.create();
    const out = assertThat(
      flattenAll([p.apply(read(fast), "Fast"), p.apply(read(slow), "Slow")])
        .apply(window(fixed(10)))
        .apply(sum.perKey<string>(), "Sum"),
    );
    const wms: number[] = [];
    const running = new DirectRunner().start(p, {
      onStep: () => wms.push(stepMetrics(running.metrics(), "Sum").inputWatermark),
    });
    await running.waitUntilFinish();
    expect(Math.max(...wms.filter((w) => w < MAX_TIMESTAMP))).toBe(6);
    out.inOnTimePane([0, 10]).containsInAnyOrder(["k", 11]);
    expect(stepMetrics(running.metrics(), "Sum").droppedLate).toBe(0);
  });

  it("the same pipeline gives the same panes on every run", async () => {
    const build = () => {
      const p = Pipeline.create();
      const captured: string[] = [];
      p.apply(
        read(
          TestStream.create<Score>()
            .addElements(at("a", 1, 1), at("b", 1, 3), at("a", 1, 12))
            .advanceWatermarkTo(11)
            .addElements(at("b", 1, 18)),
        ),
      )
        .apply(window(sessions(5), { trigger: afterWatermark({ early: afterCount(1) }) }))
        .apply(groupByKey<string, number>())
        .apply(
          parDo<KV<string, number[]>, never>({
            process(kv, ctx) {
              captured.push(`${kv[0]} ${ctx.window} ${ctx.pane.timing} ${ctx.pane.index} ${kv[1].length}`);
            },
          }),
        );
      return { p, captured };
    };
    const a = build();
    const b = build();
    await new DirectRunner().run(a.p);
    await new DirectRunner().run(b.p);
    expect(a.captured.length).toBeGreaterThan(0);
    expect(b.captured).toEqual(a.captured);
  });
});
