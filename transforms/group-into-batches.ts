import type { KV } from "../core/kv.ts";
import type { PCollection } from "../core/pcollection.ts";
import type { PTransform } from "../core/ptransform.ts";
import {
  type BagStateSpec,
  bagState,
  eventTimer,
  processingTimer,
  type StatefulContext,
  type TimerSpec,
  type ValueStateSpec,
  valueState,
} from "../core/state.ts";
import { END_OF_GLOBAL_WINDOW, MAX_TIMESTAMP } from "../core/time/instant.ts";
import { statefulParDo } from "./stateful-par-do.ts";

export interface GroupIntoBatchesOptions<V> {
  /** Elements per batch: a batch is output as soon as it holds this many. */
  readonly batchSize: number;
  /**
   * Bytes per batch: a batch is output when it reaches this many, and before an element that would take it past
   * them (a batch exceeds it only when one element does).
   */
  readonly batchSizeBytes?: number;
  /** An element's size in bytes, for `batchSizeBytes` (default: the UTF-8 length of its JSON). */
  readonly byteSize?: (value: V) => number;
  /** Output a batch at the latest this long (processing time) after its first element was buffered. */
  readonly maxBufferingDurationMs?: number;
}

type State<V> = {
  batch: BagStateSpec<V>;
  count: ValueStateSpec<number>;
  bytes: ValueStateSpec<number>;
  /** The earliest timestamp buffered: the batch's output timestamp, held by the `hold` timer. */
  minTimestamp: ValueStateSpec<number>;
};
type Timers = { hold: TimerSpec; buffering: TimerSpec };

/**
 * Beam's `GroupIntoBatches`: batches the values of each key and window, across bundles, into `[key, values]`
 * outputs of at most `batchSize` values (and `batchSizeBytes`), output when full, when `maxBufferingDurationMs` of
 * processing time has passed since the batch's first value, and when the window expires (its end plus the allowed
 * lateness, so late values still join a batch) for what is left. The buffered values are state (checkpointed with
 * the run); a timer at the window's expiry holds the output watermark at the earliest buffered timestamp, which is
 * the batch's timestamp, so a batch is never late downstream. For sinks that must write batches larger than a
 * runner's bundles.
 */
export function groupIntoBatches<K, V>(
  options: GroupIntoBatchesOptions<V>,
  name = "GroupIntoBatches",
): PTransform<PCollection<KV<K, V>>, PCollection<KV<K, V[]>>> {
  const { batchSize, batchSizeBytes, maxBufferingDurationMs } = options;
  if (!(Number.isInteger(batchSize) && batchSize > 0)) {
    throw new RangeError(`groupIntoBatches: batchSize must be a positive whole number, got ${batchSize}`);
  }
  if (batchSizeBytes !== undefined && !(batchSizeBytes > 0)) {
    throw new RangeError(`groupIntoBatches: batchSizeBytes must be positive, got ${batchSizeBytes}`);
  }
  if (
    maxBufferingDurationMs !== undefined &&
    !(Number.isInteger(maxBufferingDurationMs) && maxBufferingDurationMs > 0)
  ) {
    throw new RangeError(
      `groupIntoBatches: maxBufferingDurationMs must be a positive whole number, got ${maxBufferingDurationMs}`,
    );
  }
  const sizeOf = options.byteSize ?? ((v: V) => Buffer.byteLength(JSON.stringify(v) ?? "", "utf8"));
  const flush = (ctx: StatefulContext<K, KV<K, V[]>, State<V>, Timers>): void => {
    const s = ctx.state;
    const values = [...s.batch.read()];
    const at = s.minTimestamp.read();
    s.batch.clear();
    s.count.clear();
    s.bytes.clear();
    s.minTimestamp.clear();
    ctx.timers.hold.clear();
    ctx.timers.buffering.clear();
    if (values.length > 0 && at !== undefined) ctx.outputWithTimestamp([ctx.key, values], at);
  };
  return {
    name,
    expand: (input) => {
      const latenessMs = input.windowing.allowedLatenessMs;
      return input.apply(
        statefulParDo<K, V, KV<K, V[]>, State<V>, Timers>(
          {
            state: {
              batch: bagState<V>(),
              count: valueState<number>(),
              bytes: valueState<number>(),
              minTimestamp: valueState<number>(),
            },
            timers: { hold: eventTimer(), buffering: processingTimer() },
            // A batch goes out at its earliest buffered timestamp, held by the `hold` timer until then.
            allowedTimestampSkewMs: MAX_TIMESTAMP,
            process([, value], ctx) {
              const s = ctx.state;
              const weight = batchSizeBytes === undefined ? 0 : sizeOf(value);
              if (batchSizeBytes !== undefined && (s.count.read() ?? 0) > 0) {
                // Out before this element would take the batch past its byte size.
                if ((s.bytes.read() ?? 0) + weight > batchSizeBytes) flush(ctx);
              }
              const count = (s.count.read() ?? 0) + 1;
              const min = s.minTimestamp.read();
              if (min === undefined || ctx.timestamp < min) {
                s.minTimestamp.write(ctx.timestamp);
                const expiry = Math.min(ctx.window.maxTimestamp + latenessMs, END_OF_GLOBAL_WINDOW);
                ctx.timers.hold.set(expiry, { outputTimestamp: ctx.timestamp });
              }
              if (count === 1 && maxBufferingDurationMs !== undefined) {
                ctx.timers.buffering.setRelative({ offsetMs: maxBufferingDurationMs });
              }
              s.batch.add(value);
              s.count.write(count);
              let full = count >= batchSize;
              if (batchSizeBytes !== undefined) {
                const bytes = (s.bytes.read() ?? 0) + weight;
                s.bytes.write(bytes);
                full ||= bytes >= batchSizeBytes;
              }
              if (full) flush(ctx);
            },
            onTimer: {
              // Only holds the watermark; the window's expiry flushes.
              hold: () => {},
              buffering: (ctx) => flush(ctx),
            },
            onWindowExpiration: (ctx) => flush(ctx),
          },
          "Batch",
        ),
      );
    },
  };
}
