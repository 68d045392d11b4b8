import { describe, expect, it } from "vitest";
import type { KV } from "../../core/kv.ts";
import { Pipeline } from "../../core/pipeline.ts";
import { fixed } from "../../core/windows/window-fn.ts";
import { TestStream } from "../../io/test-stream/test-stream.ts";
import { DirectRunner } from "../../runners/direct/direct-runner.ts";
import { stepMetrics } from "../../runners/direct/metrics.ts";
import { sum } from "../../transforms/combine.ts";
import { map } from "../../transforms/element-wise.ts";
import { groupIntoBatches } from "../../transforms/group-into-batches.ts";
import { parDo } from "../../transforms/par-do.ts";
import { read } from "../../transforms/read.ts";
import { window } from "../../transforms/window-into.ts";

interface Batch<V> {
  readonly key: string;
  readonly values: V[];
  readonly timestamp: number;
}

async function batchesOf<V>(
  stream: TestStream<KV<string, V>>,
  options: Parameters<typeof groupIntoBatches<string, V>>[0],
  windowMs?: number,
): Promise<Batch<V>[]> {
  const out: Batch<V>[] = [];
  const p = Pipeline.create();
  let input = p.apply(read(stream));
  if (windowMs !== undefined) input = input.apply(window<KV<string, V>>(fixed(windowMs)));
  input.apply(groupIntoBatches<string, V>(options)).apply(
    parDo<KV<string, V[]>, never>({
      process([key, values], ctx) {
        out.push({ key, values, timestamp: ctx.timestamp });
      },
    }),
  );
  await new DirectRunner().run(p);
  return out;
}

const kv = <V>(key: string, value: V, timestamp: number) => ({ value: [key, value] as KV<string, V>, timestamp });

describe("groupIntoBatches (Beam's GroupIntoBatches)", () => {
  it("batches each key's values by count across bundles; the rest goes out when the window ends", async () => {
    let s = TestStream.create<KV<string, number>>();
    for (let i = 0; i < 10; i++) s = s.addElements(kv("a", i, 100 + i));
    s = s.addElements(kv("b", 1, 5), kv("b", 2, 3), kv("b", 3, 4));
    const batches = await batchesOf(s.advanceWatermarkToInfinity(), { batchSize: 4 });
    const a = batches.filter((b) => b.key === "a");
    expect(a.map((b) => b.values)).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
    // A batch's timestamp is its earliest element's.
    expect(a.map((b) => b.timestamp)).toEqual([100, 104, 108]);
    expect(batches.filter((b) => b.key === "b")).toEqual([{ key: "b", values: [1, 2, 3], timestamp: 3 }]);
  });

  it("batches by byte size: out when the size is reached, and before an element that would go past it", async () => {
    const s = TestStream.create<KV<string, string>>()
      .addElements(kv("k", "aaaa", 1), kv("k", "bbbb", 2), kv("k", "cc", 3), kv("k", "dddddddddd", 4), kv("k", "e", 5))
      .addElements(kv("k", "ffffff", 6), kv("k", "gggggg", 7))
      .advanceWatermarkToInfinity();
    const batches = await batchesOf(s, { batchSize: 100, batchSizeBytes: 10, byteSize: (v) => v.length });
    expect(batches.map((b) => b.values)).toEqual([["aaaa", "bbbb", "cc"], ["dddddddddd"], ["e", "ffffff"], ["gggggg"]]);
  });

  it("what is left goes out when the window expires (its end plus the allowed lateness): late values still join", async () => {
    const s = TestStream.create<KV<string, number>>()
      .addElements(kv("k", 1, 1), kv("k", 2, 2))
      .advanceWatermarkTo(50) // past the window's end [0, 10), not its expiry (10 + 100)
      .addElements(kv("k", 3, 5)) // late, within the allowed lateness
      .advanceWatermarkToInfinity();
    const out: number[][] = [];
    const p = Pipeline.create();
    p.apply(read(s))
      .apply(window<KV<string, number>>(fixed(10), { allowedLatenessMs: 100 }))
      .apply(groupIntoBatches<string, number>({ batchSize: 10 }))
      .apply(
        parDo<KV<string, number[]>, never>({
          process([, values]) {
            out.push(values);
          },
        }),
      );
    await new DirectRunner().run(p);
    expect(out).toEqual([[1, 2, 3]]);
  });

  it("outputs a batch once it has been buffered for the maximum duration of processing time", async () => {
    const s = TestStream.create<KV<string, number>>()
      .advanceProcessingTimeTo(0)
      .addElements(kv("k", 1, 10), kv("k", 2, 11))
      .advanceProcessingTime(499)
      .addElements(kv("k", 3, 12))
      .advanceProcessingTime(2) // 501 ms after the first value: the batch goes out before the window ends
      .addElements(kv("k", 4, 13))
      .advanceWatermarkToInfinity();
    const batches = await batchesOf(s, { batchSize: 100, maxBufferingDurationMs: 500 });
    expect(batches.map((b) => b.values)).toEqual([[1, 2, 3], [4]]);
  });

  it("batches per window; a batch is never late downstream (its earliest timestamp holds the watermark)", async () => {
    let s = TestStream.create<KV<string, number>>();
    // Out of order within each 10 ms window; the watermark moves past each window as it goes.
    for (let w = 0; w < 5; w++) {
      s = s.addElements(kv("k", 1, w * 10 + 7), kv("k", 1, w * 10 + 2), kv("k", 1, w * 10 + 5));
      s = s.advanceWatermarkTo(w * 10 + 10);
    }
    const p = Pipeline.create();
    const sums: number[] = [];
    const counted = p
      .apply(read(s.advanceWatermarkToInfinity()))
      .apply(window<KV<string, number>>(fixed(10)))
      .apply(groupIntoBatches<string, number>({ batchSize: 2 }), "Batch")
      .apply(map(([key, values]: KV<string, number[]>) => [key, values.length] as KV<string, number>))
      .apply(sum.perKey(), "Count");
    counted.apply(
      parDo<KV<string, number>, never>({
        process([, n]) {
          sums.push(n);
        },
      }),
    );
    const metrics = await new DirectRunner().run(p);
    // Every window's three values arrive downstream in its window: none dropped as late.
    expect(sums).toEqual([3, 3, 3, 3, 3]);
    expect(stepMetrics(metrics, "Count").droppedLate).toBe(0);
  });

  it("refuses a batch size that is not a positive whole number", () => {
    expect(() => groupIntoBatches({ batchSize: 0 })).toThrow("batchSize must be a positive whole number, got 0");
  });
});
