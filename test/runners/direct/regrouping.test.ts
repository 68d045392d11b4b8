import { describe, expect, it } from "vitest";
import type { KV } from "../../../core/kv.ts";
import { Pipeline } from "../../../core/pipeline.ts";
import { afterProcessingTime, afterWatermark } from "../../../core/triggers/trigger.ts";
import { fixed, sessions } from "../../../core/windows/window-fn.ts";
import { TestStream } from "../../../io/test-stream/test-stream.ts";
import { DirectRunner } from "../../../runners/direct/direct-runner.ts";
import { count, sum } from "../../../transforms/combine.ts";
import { map } from "../../../transforms/element-wise.ts";
import { groupByKey } from "../../../transforms/group-by-key.ts";
import { assertThat } from "../../../transforms/passert.ts";
import { read } from "../../../transforms/read.ts";
import { remerge, window } from "../../../transforms/window-into.ts";

const ev = (key: string, t: number) => ({ value: [key, 1] as KV<string, number>, timestamp: t });

describe("windows after a grouping", () => {
  it("window(...) after a grouping reassigns by timestamp: sessions counted per hour of their end", async () => {
    const HOUR = 3_600_000;
    const stream = TestStream.create<KV<string, number>>()
      .addElements(ev("a", 0), ev("a", 60_000), ev("b", 10_000), ev("a", 2 * HOUR))
      .advanceWatermarkToInfinity();
    const p = Pipeline.create();
    const perHour = assertThat(
      p
        .apply(read(stream))
        .apply(window<KV<string, number>>(sessions(30 * 60_000)))
        .apply(count.perKey<string>()) // sessions: a [0, 31m), b [10s, 30m10s), a [2h, 2h30m); each pane at its end - 1
        .apply(window<KV<string, number>>(fixed(HOUR)), "Hourly")
        .apply(map((): KV<string, number> => ["sessions", 1], "One"))
        .apply(sum.perKey<string>()),
    );
    await new DirectRunner().run(p);
    perHour.inWindow([0, HOUR]).containsInAnyOrder(["sessions", 2]);
    perHour.inWindow([2 * HOUR, 3 * HOUR]).containsInAnyOrder(["sessions", 1]);
  });

  it("remerge(): windows merged by one grouping merge again in the next (sessions per page, then per user)", async () => {
    const stream = TestStream.create<KV<string, number>>()
      .addElements(ev("u|A", 0), ev("u|A", 5), ev("u|B", 12), ev("v|A", 50))
      .advanceWatermarkToInfinity();
    const p = Pipeline.create();
    const perUser = assertThat(
      p
        .apply(read(stream))
        .apply(window<KV<string, number>>(sessions(10)))
        .apply(sum.perKey<string>()) // u|A [0,15) 2, u|B [12,22) 1, v|A [50,60) 1
        .apply(map(([k, n]: KV<string, number>) => [k.split("|")[0] as string, n] as KV<string, number>, "ByUser"))
        .apply(remerge<KV<string, number>>())
        .apply(groupByKey<string, number>()),
    );
    await new DirectRunner().run(p);
    const windows = perUser.all().map((e) => `${e.value[0]} ${e.window} ${[...e.value[1]].sort().join(",")}`);
    expect(windows.sort()).toEqual(["u [0, 22) 1,2", "v [50, 60) 1"]);
  });

  it("a grouping after a grouping runs the continuation trigger: early panes keep flowing (synchronized processing time)", async () => {
    const stream = TestStream.create<KV<string, number>>()
      .advanceProcessingTimeTo(0)
      .addElements(ev("k", 1), ev("k", 2))
      .advanceProcessingTimeTo(20) // the first grouping's early pane (arrival 0 + 10 < 20)
      .advanceProcessingTimeTo(30) // the second grouping's synchronized-processing-time early pane
      .advanceWatermarkToInfinity();
    const p = Pipeline.create();
    const second = assertThat(
      p
        .apply(read(stream))
        .apply(
          window<KV<string, number>>(fixed(100), {
            trigger: afterWatermark({ early: afterProcessingTime(10) }),
            accumulation: "accumulating",
          }),
        )
        .apply(sum.perKey<string>(), "First")
        .apply(sum.perKey<string>(), "Second"),
    );
    const steps: number[] = [];
    await new DirectRunner().run(p, { onStep: () => steps.push(second.all().length) });
    const early = second.inEarlyPanes([0, 100]);
    early.containsInAnyOrder(["k", 2]);
    expect(steps[3]).toBe(1); // the early pane reached the second grouping's output by processing time 30
    expect(second.inOnTimePane([0, 100]).values()).toHaveLength(1);
  });
});
