import { describe, expect, it } from "vitest";
import { MAX_TIMESTAMP } from "../../../core/time/instant.ts";
import { parseFixtureStream, readFixtureStream, toFixtureJsonl } from "../../../io/test-stream/jsonl.ts";
import { TestStream } from "../../../io/test-stream/test-stream.ts";

describe("fixture streams as JSON Lines", () => {
  it("parse the transcript words: input bundles, watermark (ms or inf) and processing time, skipping comments", () => {
    const s = parseFixtureStream<string>(
      [
        "# a comment",
        '{"processingTime": 5}',
        '{"input": [{"value": "a", "timestamp": 1}, {"value": "b", "timestamp": 2}]}',
        "",
        '{"watermark": 10}',
        '{"watermark": "inf"}',
      ].join("\n"),
    );
    expect(s.events).toEqual([
      { kind: "processingTime", time: 5 },
      { kind: "elements", values: ["a", "b"], timestamps: [1, 2] },
      { kind: "watermark", watermark: 10 },
      { kind: "watermark", watermark: MAX_TIMESTAMP },
    ]);
  });

  it("round-trip: a TestStream written as JSONL parses back to the same events", () => {
    const stream = TestStream.create<{ user: string }>()
      .advanceProcessingTimeTo(100)
      .addElements({ value: { user: "a" }, timestamp: 7 })
      .advanceWatermarkTo(50)
      .addElements({ value: { user: "b" }, timestamp: 60 }, { value: { user: "c" }, timestamp: 3 })
      .advanceWatermarkToInfinity();
    const text = toFixtureJsonl(stream);
    expect(text.trim().split("\n")).toHaveLength(5);
    expect(parseFixtureStream(text).events).toEqual(stream.events);
  });

  it.each([
    ['{"input": [{"value": 1}]}', /fx:1: input\[0\] has no numeric "timestamp"/],
    ["not json", /fx:1: not valid JSON/],
    ['{"watermark": "soon"}', /fx:1: "watermark" must be epoch ms or "inf"/],
    ['{"surprise": 1}', /fx:1: expected "input", "watermark" or "processingTime", got keys surprise/],
    ['{"watermark": 10}\n{"watermark": 5}', /fx:2: .*cannot go backwards/],
    ['{"input": [{"value": 1, "timestamp": 1.5}]}', /fx:1: .*element 0 .*not a valid timestamp/],
  ])("a bad line is an error naming the file, the line and the problem: %s", (text, message) => {
    expect(() => parseFixtureStream(text, "fx")).toThrow(message);
  });

  it("a missing file is a clear error", () => {
    expect(() => readFixtureStream("test/fixtures/does-not-exist.jsonl")).toThrow(
      /cannot read fixture stream test\/fixtures\/does-not-exist.jsonl/,
    );
  });

  it("the shipped fixture parses: bundles of page views with watermarks that only move forward", () => {
    const s = readFixtureStream<{ user: string; page: string; eventTime: number }>("test/fixtures/user-events.jsonl");
    const bundles = s.events.filter((e) => e.kind === "elements");
    const views = bundles.flatMap((e) => (e.kind === "elements" ? [...e.values] : []));
    expect(views.length).toBeGreaterThan(50);
    expect(new Set(views.map((v) => v.user))).toEqual(new Set(["alice", "bob", "carol", "dave", "erin"]));
    expect(s.events.at(-1)).toEqual({ kind: "watermark", watermark: MAX_TIMESTAMP });
  });
});
