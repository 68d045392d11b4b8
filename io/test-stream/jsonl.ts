import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";
import type { Source, SourceEvent, SourceReader } from "../../core/source.ts";
import { instant, MAX_TIMESTAMP } from "../../core/time/instant.ts";
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
  const parser = new FixtureLineParser<T>(file);
  let i = 0;
  for (const raw of lines) {
    const ev = parser.parse(raw, ++i);
    if (ev === undefined) continue;
    switch (ev.kind) {
      case "elements":
        stream = stream.addElements(...ev.values.map((value, j) => ({ value, timestamp: ev.timestamps[j] as number })));
        break;
      case "watermark":
        stream = stream.advanceWatermarkTo(ev.watermark);
        break;
      case "processingTime":
        stream = stream.advanceProcessingTimeTo(ev.time);
        break;
    }
  }
  return stream;
}

/**
 * Reads a fixture stream file into memory. For a file too large for that, `fixtureFileSource` reads it lazily.
 * A missing file is an error naming it.
 */
export function readFixtureStream<T = unknown>(path: string): TestStream<T> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`cannot read fixture stream ${path}: ${(e as Error).message}`);
  }
  return parseFixtureStream<T>(text, path);
}

/**
 * A fixture stream read lazily: each line is parsed when the runner asks for the next event, so a stream of any
 * length runs in bounded memory (the lines themselves come from `lines`, called once per run). Like a TestStream it
 * drives processing time, and a bad line is an error naming `name`, the line and the problem, raised when reached.
 */
export function fixtureLinesSource<T = unknown>(name: string, lines: () => Iterable<string>): Source<T> {
  return {
    name,
    bounded: true,
    drivesProcessingTime: true,
    /** `restored`: a reader's snapshot (lines read, watermark and processing time): reading goes on after them. */
    open(restored?: unknown): SourceReader<T> {
      const parser = new FixtureLineParser<T>(name);
      const it = lines()[Symbol.iterator]();
      let i = 0;
      const from = restored as { line: number; watermark: number; processingTime: number } | undefined;
      if (from !== undefined) {
        while (i < from.line && !it.next().done) i++;
        parser.resume(from.watermark, from.processingTime);
      }
      return {
        next(): SourceEvent<T> | undefined {
          for (;;) {
            const line = it.next();
            if (line.done) return undefined;
            const ev = parser.parse(line.value, ++i);
            if (ev !== undefined) return ev;
          }
        },
        snapshot: () => ({ line: i, ...parser.position() }),
        close() {
          it.return?.();
        },
      };
    },
  };
}

/** `fixtureLinesSource` over a file, read a megabyte at a time. A missing file is an error naming it, at once. */
export function fixtureFileSource<T = unknown>(path: string): Source<T> {
  try {
    closeSync(openSync(path, "r"));
  } catch (e) {
    throw new Error(`cannot read fixture stream ${path}: ${(e as Error).message}`);
  }
  return fixtureLinesSource<T>(path, () => fileLines(path));
}

/** The lines of a UTF-8 file, read a megabyte at a time (a last line without a newline included). */
export function* fileLines(path: string): Generator<string, void, undefined> {
  const fd = openSync(path, "r");
  try {
    const buffer = Buffer.allocUnsafe(1 << 20);
    const decoder = new StringDecoder("utf8");
    let rest = "";
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      const text = rest + decoder.write(buffer.subarray(0, n));
      const lines = text.split("\n");
      rest = lines.pop() as string;
      yield* lines;
    }
    rest += decoder.end();
    if (rest !== "") yield rest;
  } finally {
    closeSync(fd);
  }
}

/**
 * Parses fixture lines one at a time, checking what the TestStream builder checks (timestamps in range, watermark
 * and processing time never going back), with errors naming the file and line.
 */
class FixtureLineParser<T> {
  private watermark = Number.NEGATIVE_INFINITY;
  private processingTime = Number.NEGATIVE_INFINITY;

  constructor(private readonly file: string) {}

  /** The watermark and processing time so far (a reader's snapshot). */
  position(): { watermark: number; processingTime: number } {
    return { watermark: this.watermark, processingTime: this.processingTime };
  }

  /** Goes on from a position (when a reader resumes from a checkpoint). */
  resume(watermark: number, processingTime: number): void {
    this.watermark = watermark;
    this.processingTime = processingTime;
  }

  /** The event of a line, or undefined for a blank or comment line. */
  parse(raw: string, lineNo: number): SourceEvent<T> | undefined {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return undefined;
    const where = `${this.file}:${lineNo}`;
    let ev: unknown;
    try {
      ev = JSON.parse(line);
    } catch (e) {
      throw new Error(`${where}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof ev !== "object" || ev === null || Array.isArray(ev)) {
      throw new Error(`${where}: expected an object with "input", "watermark" or "processingTime"`);
    }
    try {
      return this.event(ev as Record<string, unknown>);
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message}`);
    }
  }

  private event(o: Record<string, unknown>): SourceEvent<T> {
    if ("input" in o) {
      if (!Array.isArray(o.input)) throw new Error(`"input" must be an array of {value, timestamp}`);
      const values: T[] = new Array(o.input.length);
      const timestamps: number[] = new Array(o.input.length);
      o.input.forEach((e: unknown, j: number) => {
        const el = e as { value?: unknown; timestamp?: unknown };
        if (typeof el !== "object" || el === null || !("value" in el)) throw new Error(`input[${j}] has no "value"`);
        if (typeof el.timestamp !== "number") throw new Error(`input[${j}] has no numeric "timestamp"`);
        values[j] = el.value as T;
        try {
          timestamps[j] = instant(el.timestamp);
        } catch (err) {
          throw new RangeError(`input[${j}]: ${(err as Error).message}`);
        }
      });
      return { kind: "elements", values, timestamps };
    }
    if ("watermark" in o) {
      const w = o.watermark;
      if (w !== "inf" && typeof w !== "number") throw new Error(`"watermark" must be epoch ms or "inf"`);
      const t = w === "inf" ? MAX_TIMESTAMP : (w as number);
      if (t < this.watermark)
        throw new RangeError(`the watermark cannot go backwards (from ${this.watermark} to ${t})`);
      this.watermark = t;
      return { kind: "watermark", watermark: t };
    }
    if ("processingTime" in o) {
      const t = o.processingTime;
      if (typeof t !== "number") throw new Error(`"processingTime" must be epoch ms`);
      if (t < this.processingTime) {
        throw new RangeError(`processing time cannot go backwards (from ${this.processingTime} to ${t})`);
      }
      this.processingTime = t;
      return { kind: "processingTime", time: t };
    }
    throw new Error(`expected "input", "watermark" or "processingTime", got keys ${Object.keys(o).join(", ")}`);
  }
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
