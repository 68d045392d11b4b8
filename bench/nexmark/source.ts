/**
 * Nexmark events as sources for the direct runner:
 *
 * - `nexmarkSource(config)`: the generator in process, unbounded (Beam's `UnboundedEventSource` without rate
 *   limiting): bundles of events stamped with their event times, each followed by the generator's watermark (the time
 *   of the first event of the current out-of-order group, below every event still to come), then +infinity when
 *   `numEvents` have been emitted. A reader resumes from a snapshot (the count emitted so far).
 * - `nexmarkFileSource(path)`: a file of JSON lines (`model.ts`), bounded, read lazily; its elements carry their
 *   `dateTime` and no watermark until the end (Beam Python's launcher reads such a file as a batch: nothing is late).
 */
import type { Source, SourceEvent, SourceReader } from "../../core/source.ts";
import { fileLines } from "../../io/test-stream/jsonl.ts";
import { type NexmarkConfig, NexmarkGenerator } from "./generator.ts";
import { type NexmarkEvent, parseEvent } from "./model.ts";

/** Events per bundle (the direct runner processes a source event at a time). */
export const NEXMARK_BUNDLE_SIZE = 1024;

export interface NexmarkSourceOptions {
  readonly name?: string;
  readonly bundleSize?: number;
  /** Called with each bundle's size as it is generated (for a rate's bookkeeping). */
  readonly onBundle?: (events: number) => void;
  /**
   * The generator only: replay at event time, processing time following the watermark (a virtual clock: each
   * watermark is also a processing-time advance), as if the events arrived as they happen; deterministic.
   */
  readonly processingTimeFollowsWatermark?: boolean;
}

export function nexmarkSource(config: NexmarkConfig, options: NexmarkSourceOptions = {}): Source<NexmarkEvent> {
  const bundleSize = options.bundleSize ?? NEXMARK_BUNDLE_SIZE;
  return {
    name: options.name ?? "Nexmark",
    bounded: false,
    ...(options.processingTimeFollowsWatermark === true ? { drivesProcessingTime: true } : {}),
    open(restored?: unknown): SourceReader<NexmarkEvent> {
      const generator = new NexmarkGenerator(config);
      if (typeof restored === "number") generator.count = restored;
      let watermarkDue = false;
      let clockDue = false;
      return {
        next(): SourceEvent<NexmarkEvent> | undefined {
          if (clockDue) {
            clockDue = false;
            return { kind: "processingTime", time: generator.watermarkAt(generator.count) };
          }
          if (watermarkDue) {
            watermarkDue = false;
            clockDue = options.processingTimeFollowsWatermark === true;
            return { kind: "watermark", watermark: generator.watermarkAt(generator.count) };
          }
          if (!generator.hasNext()) return undefined;
          const n = Math.min(bundleSize, config.numEvents - generator.count);
          const values = new Array<NexmarkEvent>(n);
          const timestamps = new Float64Array(n);
          for (let i = 0; i < n; i++) {
            const e = generator.next();
            values[i] = e;
            timestamps[i] = e.dateTime;
          }
          options.onBundle?.(n);
          watermarkDue = generator.hasNext();
          return { kind: "elements", values, timestamps };
        },
        snapshot: () => generator.count,
      };
    },
  };
}

/** A file of Nexmark JSON lines, in bundles; a bad line fails the run naming the file and line. */
export function nexmarkFileSource(path: string, options: NexmarkSourceOptions = {}): Source<NexmarkEvent> {
  const bundleSize = options.bundleSize ?? NEXMARK_BUNDLE_SIZE;
  return {
    name: options.name ?? "NexmarkFile",
    bounded: true,
    open(restored?: unknown): SourceReader<NexmarkEvent> {
      const lines = fileLines(path);
      let lineNumber = 0;
      const skip = typeof restored === "number" ? restored : 0;
      while (lineNumber < skip && !lines.next().done) lineNumber++;
      return {
        next(): SourceEvent<NexmarkEvent> | undefined {
          const values: NexmarkEvent[] = [];
          const timestamps: number[] = [];
          while (values.length < bundleSize) {
            const r = lines.next();
            if (r.done) break;
            lineNumber++;
            if (r.value.trim() === "") continue;
            let e: NexmarkEvent;
            try {
              e = parseEvent(r.value, lineNumber);
            } catch (err) {
              throw new Error(`${path}: ${(err as Error).message}`);
            }
            values.push(e);
            timestamps.push(e.dateTime);
          }
          if (values.length === 0) return undefined;
          options.onBundle?.(values.length);
          return { kind: "elements", values, timestamps };
        },
        snapshot: () => lineNumber,
        close() {
          lines.return(undefined);
        },
      };
    },
  };
}
