import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MAX_TIMESTAMP } from "../../../core/time/instant.ts";
import {
  fixtureFileSource,
  fixtureLinesSource,
  parseFixtureStream,
  readFixtureStream,
  toFixtureJsonl,
} from "../../../io/test-stream/jsonl.ts";
import type { Source, SourceEvent } from "../../../core/source.ts";

/** Every event a source's reader gives, in order. */
function drain<T>(source: Source<T>): SourceEvent<T>[] {
  const reader = source.open();
  const out: SourceEvent<T>[] = [];
  for (let ev = reader.next(); ev !== undefined; ev = reader.next()) out.push(ev as SourceEvent<T>);
  return out;
}
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
    ['{"input": [{"value": 1, "timestamp": 1.5}]}', /fx:1: input\[0\]: not a valid timestamp/],
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

  it("a lazy file source gives the same events as the file read whole, and is read again on every open", () => {
    const path = "test/fixtures/events-small.jsonl";
    const source = fixtureFileSource(path);
    expect(source).toMatchObject({ bounded: true, drivesProcessingTime: true, name: path });
    const whole = readFixtureStream(path).events;
    expect(whole.length).toBeGreaterThan(100);
    expect(drain(source)).toEqual(whole);
    expect(drain(source)).toEqual(whole);
  });

  it("a lazy source parses a line only when it is reached, and a bad line is then an error naming it", () => {
    let pulled = 0;
    const source = fixtureLinesSource<number>("lazy", function* () {
      for (const line of ['{"input": [{"value": 1, "timestamp": 5}]}', "", '{"watermark": 3}', "oops"]) {
        pulled++;
        yield line;
      }
    });
    const reader = source.open();
    expect(reader.next()).toEqual({ kind: "elements", values: [1], timestamps: [5] });
    expect(pulled).toBe(1);
    expect(reader.next()).toEqual({ kind: "watermark", watermark: 3 });
    expect(() => reader.next()).toThrow(/lazy:4: not valid JSON/);
  });

  it("a lazy source refuses a watermark that goes back, naming the line", () => {
    const source = fixtureLinesSource("wm", () => ['{"watermark": 10}', '{"watermark": 5}']);
    expect(() => drain(source)).toThrow(/wm:2: the watermark cannot go backwards/);
  });

  it("a lazy file source over a missing file is a clear error at once", () => {
    expect(() => fixtureFileSource("test/fixtures/does-not-exist.jsonl")).toThrow(
      /cannot read fixture stream test\/fixtures\/does-not-exist.jsonl/,
    );
  });

  it("a lazy file source reads lines that cross its read chunks, multi-byte characters included", () => {
    const dir = mkdtempSync(join(tmpdir(), "tidemark-jsonl-"));
    try {
      const path = join(dir, "big.jsonl");
      const value = "é€😀".repeat(1000);
      const lines = Array.from({ length: 400 }, (_, i) => JSON.stringify({ input: [{ value, timestamp: i }] }));
      writeFileSync(path, `${lines.join("\n")}\n`);
      expect(statSync(path).size).toBeGreaterThan(2 << 20);
      const events = drain(fixtureFileSource<string>(path));
      expect(events).toHaveLength(400);
      expect(events.every((ev, i) => ev.kind === "elements" && ev.values[0] === value && ev.timestamps[0] === i)).toBe(
        true,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
