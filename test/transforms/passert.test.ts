import { describe, expect, it } from "vitest";
import type { KV } from "../../core/kv.ts";
import { Pipeline } from "../../core/pipeline.ts";
import { afterCount, afterWatermark } from "../../core/triggers/trigger.ts";
import { fixed } from "../../core/windows/window-fn.ts";
import { IntervalWindow } from "../../core/windows/window.ts";
import { TestStream } from "../../io/test-stream/test-stream.ts";
import { DirectRunner } from "../../runners/direct/direct-runner.ts";
import { sum } from "../../transforms/combine.ts";
import { assertThat, PAssertError, type PAssertion } from "../../transforms/passert.ts";
import { create, read } from "../../transforms/read.ts";
import { window } from "../../transforms/window-into.ts";

type Score = KV<string, number>;
const at = (v: number, timestamp: number) => ({ value: ["k", v] as Score, timestamp });

/**
 * Sums in [0,10): an early pane (1+2), the on-time pane (4) and a late pane (8), and no final pane; [10,20): one
 * on-time, final pane (16) when the end of input passes its end and expiry at once.
 */
async function panes(): Promise<PAssertion<Score>> {
  const stream = TestStream.create<Score>()
    .addElements(at(1, 1), at(2, 2))
    .addElements(at(4, 3), at(16, 15))
    .advanceWatermarkTo(10)
    .addElements(at(8, 4));
  const p = Pipeline.create();
  const out = assertThat(
    p
      .apply(read(stream))
      .apply(
        window(fixed(10), {
          trigger: afterWatermark({ early: afterCount(2), late: afterCount(1) }),
          allowedLatenessMs: 50,
        }),
      )
      .apply(sum.perKey<string>()),
    "Sums",
  );
  await new DirectRunner().run(p);
  return out;
}

describe("PAssert", () => {
  it("selects a window's panes by timing, index and finality", async () => {
    const out = await panes();
    out.inEarlyPanes([0, 10]).containsInAnyOrder(["k", 3]);
    out.inOnTimePane([0, 10]).containsInAnyOrder(["k", 4]);
    out.inLatePanes([0, 10]).containsInAnyOrder(["k", 8]);
    out.inPane([0, 10], 2).containsInAnyOrder(["k", 8]);
    out.inWindow([0, 10]).containsInAnyOrder(["k", 3], ["k", 4], ["k", 8]);
    out.inWindow(new IntervalWindow(10, 20)).containsInAnyOrder(["k", 16]);
    out.inFinalPane([0, 10]).isEmpty(); // its expiry had nothing new to emit
    out.inFinalPane([10, 20]).containsInAnyOrder(["k", 16]); // end of input passes its end and expiry at once
    out.inLatePanes([10, 20]).isEmpty();
    out.everything().containsInAnyOrder(["k", 3], ["k", 4], ["k", 8], ["k", 16]);
    expect(out.inOnTimePane([10, 20]).single()).toEqual(["k", 16]);
    expect(
      out
        .inWindow([0, 10])
        .panes()
        .map((p) => p.timing),
    ).toEqual(["EARLY", "ON_TIME", "LATE"]);
  });

  it("inFinalPane picks the pane marked last", async () => {
    const p = Pipeline.create();
    const out = assertThat(
      p
        .apply(read(TestStream.create<Score>().addElements(at(1, 1), at(2, 2))))
        .apply(window(fixed(10)))
        .apply(sum.perKey<string>()),
    );
    await new DirectRunner().run(p);
    out.inFinalPane([0, 10]).containsInAnyOrder(["k", 3]);
  });

  it("containsInAnyOrder compares by value, in any order, with duplicates counted", async () => {
    const p = Pipeline.create();
    const out = assertThat(
      p.apply(
        create([
          { b: 1, a: [1, 2] },
          { a: [1, 2], b: 1 },
          { a: [], b: 2 },
        ]),
      ),
    );
    await new DirectRunner().run(p);
    out.inWindow("global").containsInAnyOrder({ a: [], b: 2 }, { a: [1, 2], b: 1 }, { b: 1, a: [1, 2] });
    expect(() => out.inWindow("global").containsInAnyOrder({ a: [], b: 2 }, { a: [1, 2], b: 1 })).toThrow(PAssertError);
  });

  it("a wrong expectation throws a PAssertError listing both sides", async () => {
    const out = await panes();
    expect(() => out.inOnTimePane([0, 10]).containsInAnyOrder(["k", 7])).toThrow(PAssertError);
    expect(() => out.inOnTimePane([0, 10]).containsInAnyOrder(["k", 7])).toThrow(
      'Sums: the on-time pane of window [0, 10): expected [["k",7]] in any order, got [["k",4]]',
    );
  });

  it.each<[string, (out: PAssertion<Score>) => void, RegExp]>([
    [
      "extra element",
      (o) => o.inWindow([0, 10]).containsInAnyOrder(["k", 3], ["k", 4]),
      /all panes of window \[0, 10\)/,
    ],
    ["missing element", (o) => o.inLatePanes([0, 10]).containsInAnyOrder(["k", 8], ["k", 9]), /late panes/],
    [
      "wrong window",
      (o) => o.inEarlyPanes([10, 20]).containsInAnyOrder(["k", 3]),
      /early panes of window \[10, 20\).*got \[\]/,
    ],
    ["not empty", (o) => o.inOnTimePane([0, 10]).isEmpty(), /expected no elements, got \[\["k",4\]\]/],
    ["not single", (o) => o.inWindow([0, 10]).single(), /expected exactly one element, got 3/],
    ["final pane when there is none", (o) => o.inFinalPane([0, 10]).containsInAnyOrder(["k", 8]), /the final pane/],
  ])("a wrong expectation throws: %s", async (_, check, message) => {
    const out = await panes();
    let error: unknown;
    try {
      check(out);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PAssertError);
    expect((error as Error).message).toMatch(message);
  });

  it("captures timestamps and panes", async () => {
    const out = await panes();
    expect(out.all().map((e) => [e.window.toString(), e.timestamp, e.pane.index])).toEqual(
      expect.arrayContaining([
        ["[0, 10)", 9, 0],
        ["[0, 10)", 9, 1],
        ["[0, 10)", 9, 2],
        ["[10, 20)", 19, 0],
      ]),
    );
  });

  it("several assertions with the default name can be applied to one pipeline", async () => {
    const p = Pipeline.create();
    const xs = p.apply(create([1, 2]));
    const first = assertThat(xs);
    const second = assertThat(xs);
    await new DirectRunner().run(p);
    first.everything().containsInAnyOrder(1, 2);
    second.everything().containsInAnyOrder(1, 2);
  });
});
