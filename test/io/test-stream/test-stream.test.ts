import { describe, expect, it } from "vitest";
import type { SourceEvent } from "../../../core/source.ts";
import { MAX_TIMESTAMP } from "../../../core/time/instant.ts";
import { TestStream } from "../../../io/test-stream/test-stream.ts";

function events<T>(s: TestStream<T>): SourceEvent<T>[] {
  const reader = s.open();
  const out: SourceEvent<T>[] = [];
  for (let e = reader.next(); e !== undefined; e = reader.next()) out.push(e as SourceEvent<T>);
  return out;
}

describe("TestStream", () => {
  it("replays its script: one bundle per addElements, watermark and processing-time moves in order", () => {
    const s = TestStream.create<string>()
      .addElements({ value: "a", timestamp: 1 }, { value: "b", timestamp: 2 })
      .advanceWatermarkTo(5)
      .advanceProcessingTime(10)
      .advanceProcessingTime(5)
      .addElements({ value: "c", timestamp: 3 })
      .advanceWatermarkToInfinity();
    expect(events(s)).toEqual([
      { kind: "elements", values: ["a", "b"], timestamps: [1, 2] },
      { kind: "watermark", watermark: 5 },
      { kind: "processingTime", time: 10 },
      { kind: "processingTime", time: 15 },
      { kind: "elements", values: ["c"], timestamps: [3] },
      { kind: "watermark", watermark: MAX_TIMESTAMP },
    ]);
    expect(s.bounded).toBe(true);
    expect(s.drivesProcessingTime).toBe(true);
  });

  it("is immutable: each step returns a new stream, and every open() replays from the start", () => {
    const base = TestStream.create<number>().addElements({ value: 1, timestamp: 1 });
    const longer = base.advanceWatermarkTo(10);
    expect(events(base)).toHaveLength(1);
    expect(events(longer)).toHaveLength(2);
    expect(events(longer)).toEqual(events(longer));
  });

  it("refuses a watermark or processing time that goes backwards", () => {
    const s = TestStream.create<number>("S").advanceWatermarkTo(10).advanceProcessingTimeTo(100);
    expect(() => s.advanceWatermarkTo(9)).toThrow("S: the watermark cannot go backwards (from 10 to 9)");
    expect(() => s.advanceProcessingTimeTo(99)).toThrow("S: processing time cannot go backwards (from 100 to 99)");
    expect(() => s.advanceWatermarkTo(10)).not.toThrow();
  });

  it("refuses an invalid timestamp, naming the element and the bundle", () => {
    const s = TestStream.create<number>("S").advanceWatermarkTo(1);
    expect(() => s.addElements({ value: 1, timestamp: 1 }, { value: 2, timestamp: 2.5 })).toThrow(
      /^S: element 1 of bundle 1: not a valid timestamp: 2.5/,
    );
  });

  it("keeps every version independent: extending an older version does not change the newer one", () => {
    const base = TestStream.create<string>("S").addElements({ value: "a", timestamp: 1 });
    const left = base.addElements({ value: "b", timestamp: 2 });
    const right = base.advanceWatermarkTo(5);
    const reader = left.open();
    const leftMore = left.addElements({ value: "c", timestamp: 3 });
    expect(events(base).map((e) => e.kind)).toEqual(["elements"]);
    expect(events(left).map((e) => e.kind)).toEqual(["elements", "elements"]);
    expect(events(right).map((e) => e.kind)).toEqual(["elements", "watermark"]);
    expect(events(leftMore)).toHaveLength(3);
    let n = 0;
    while (reader.next() !== undefined) n++;
    expect(n).toBe(2);
    expect(left.events).toHaveLength(2);
  });

  it("builds a stream of 200,000 bundles one at a time", () => {
    let s = TestStream.create<number>("S");
    for (let i = 0; i < 200_000; i++) s = s.addElements({ value: i, timestamp: i });
    expect(s.events).toHaveLength(200_000);
  });
});
