import { readFileSync } from "node:fs";
import type { SourceEvent } from "../../core/source.ts";
import { MAX_TIMESTAMP } from "../../core/time/instant.ts";
import { TestStream } from "./test-stream.ts";

/**
 * The fixture stream file format: JSON Lines, one source event per line, with the words of the conformance
 * transcripts:
 *   {"input": [{"value": ..., "timestamp": 1700000000000}, ...]}   one bundle of elements
 *   {"watermark": 1700000060000}  or  {"watermark": "inf"}        a watermark advance
 *   {"processingTime": 1700000001000}                             a processing-time advance
 * Blank lines and lines starting with '#' are skipped. A bad line is an error naming the file, line and problem.
 */
export function parseFixtureStream<T = unknown>(text: string, file = "<fixture>"): TestStream<T> {
  return parseFixtureLines<T>(text.split("\n"), file);
}

/** `parseFixtureStream` over lines given one at a time (a stream too large for one string). */
export function parseFixtureLines<T = unknown>(lines: Iterable<string>, file = "<fixture>"): TestStream<T> {
  let stream = TestStream.create<T>(file);
  let i = -1;
  for (const raw of lines) {
    i++;
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const where = `${file}:${i + 1}`;
    let ev: unknown;
    try {
      ev = JSON.parse(line);
    } catch (e) {
      throw new Error(`${where}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof ev !== "object" || ev === null || Array.isArray(ev)) {
      throw new Error(`${where}: expected an object with "input", "watermark" or "processingTime"`);
    }
    const o = ev as Record<string, unknown>;
    try {
      if ("input" in o) {
        if (!Array.isArray(o.input)) throw new Error(`"input" must be an array of {value, timestamp}`);
        stream = stream.addElements(
          ...o.input.map((e: unknown, j: number) => {
            const el = e as { value?: unknown; timestamp?: unknown };
            if (typeof el !== "object" || el === null || !("value" in el))
              throw new Error(`input[${j}] has no "value"`);
            if (typeof el.timestamp !== "number") throw new Error(`input[${j}] has no numeric "timestamp"`);
            return { value: el.value as T, timestamp: el.timestamp };
          }),
        );
      } else if ("watermark" in o) {
        const w = o.watermark;
        if (w !== "inf" && typeof w !== "number") throw new Error(`"watermark" must be epoch ms or "inf"`);
        stream = stream.advanceWatermarkTo(w === "inf" ? MAX_TIMESTAMP : (w as number));
      } else if ("processingTime" in o) {
        if (typeof o.processingTime !== "number") throw new Error(`"processingTime" must be epoch ms`);
        stream = stream.advanceProcessingTimeTo(o.processingTime);
      } else {
        throw new Error(`expected "input", "watermark" or "processingTime", got keys ${Object.keys(o).join(", ")}`);
      }
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message}`);
    }
  }
  return stream;
}

export function readFixtureStream<T = unknown>(path: string): TestStream<T> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`cannot read fixture stream ${path}: ${(e as Error).message}`);
  }
  return parseFixtureStream<T>(text, path);
}

/** Writes a stream in the fixture format (the inverse of `parseFixtureStream`). */
export function toFixtureJsonl<T>(stream: TestStream<T>): string {
  return stream.events.map((ev: SourceEvent<T>) => `${JSON.stringify(eventToJson(ev))}\n`).join("");
}

function eventToJson<T>(ev: SourceEvent<T>): unknown {
  switch (ev.kind) {
    case "elements":
      return { input: ev.values.map((value, i) => ({ value, timestamp: ev.timestamps[i] })) };
    case "watermark":
      return { watermark: ev.watermark >= MAX_TIMESTAMP ? "inf" : ev.watermark };
    case "processingTime":
      return { processingTime: ev.time };
  }
}
