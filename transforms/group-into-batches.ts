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
import { MAX_TIMESTAMP } from "../core/time/instant.ts";
import { statefulParDo } from "./stateful-par-do.ts";

export interface GroupIntoBatchesOptions<V> {
  /** Elements per batch: a batch is output as soon as it holds this many. */
  readonly batchSize: number;
  /** Also output a batch once its elements' sizes add up to this many bytes. */
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
  /** The earliest timestamp buffered: the batch's output timestamp, held by the end-of-window timer. */
  minTimestamp: ValueStateSpec<number>;
};
type Timers = { endOfWindow: TimerSpec; buffering: TimerSpec };

/**
 * Beam's `GroupIntoBatches`: batches the values of each key and window, across bundles, into `[key, values]`
 * outputs of at most `batchSize` values (and `batchSizeBytes`), output when full, when `maxBufferingDurationMs` of
 * processing time has passed since the batch's first value, and at the end of the window for what is left. The
 * buffered values are state (checkpointed with the run) and the earliest buffered timestamp holds the output
 * watermark, so a batch is never late downstream; a batch's timestamp is that earliest timestamp. For sinks that
 * must write batches larger than a runner's bundles.
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
    ctx.timers.endOfWindow.clear();
    ctx.timers.buffering.clear();
    if (values.length > 0 && at !== undefined) ctx.outputWithTimestamp([ctx.key, values], at);
  };
  return statefulParDo<K, V, KV<K, V[]>, State<V>, Timers>(
    {
      state: {
        batch: bagState<V>(),
        count: valueState<number>(),
        bytes: valueState<number>(),
        minTimestamp: valueState<number>(),
      },
      timers: { endOfWindow: eventTimer(), buffering: processingTimer() },
      // A batch goes out at its earliest buffered timestamp, which can be before the element that completes it.
      allowedTimestampSkewMs: MAX_TIMESTAMP,
      process([, value], ctx) {
        const s = ctx.state;
        const count = (s.count.read() ?? 0) + 1;
        const min = s.minTimestamp.read();
        if (count === 1 && maxBufferingDurationMs !== undefined) {
          ctx.timers.buffering.setRelative({ offsetMs: maxBufferingDurationMs });
        }
        if (min === undefined || ctx.timestamp < min) {
          s.minTimestamp.write(ctx.timestamp);
          // Flush what is left when the window ends, holding the watermark at the batch's earliest timestamp.
          ctx.timers.endOfWindow.set(ctx.window.maxTimestamp, { outputTimestamp: ctx.timestamp });
        }
        s.batch.add(value);
        s.count.write(count);
        let full = count >= batchSize;
        if (batchSizeBytes !== undefined) {
          const bytes = (s.bytes.read() ?? 0) + sizeOf(value);
          s.bytes.write(bytes);
          full ||= bytes >= batchSizeBytes;
        }
        if (full) flush(ctx);
      },
      onTimer: {
        endOfWindow: (ctx) => flush(ctx),
        buffering: (ctx) => flush(ctx),
      },
    },
    name,
  );
}
