import { NO_FIRING, type PaneInfo, type PaneTiming } from "../../../core/pane.ts";
import { END_OF_GLOBAL_WINDOW, MAX_TIMESTAMP, MIN_TIMESTAMP } from "../../../core/time/instant.ts";
import { type BoundedWindow, GlobalWindow, IntervalWindow } from "../../../core/windows/window.ts";
import { URNS } from "../urns.ts";
import { ByteReader, ByteWriter } from "./bytes.ts";
import { valueCoder } from "./value-coder.ts";

/**
 * A coder: Beam's encoding of a value, in the nested context (what a coder writes inside another: self-delimiting).
 * `urn` and `components` are what the translation puts in the pipeline's coder table.
 */
export interface Coder<T> {
  readonly urn: string;
  readonly components: readonly Coder<unknown>[];
  encode(value: T, w: ByteWriter): void;
  decode(r: ByteReader): T;
}

export function encodeToBytes<T>(coder: Coder<T>, value: T): Uint8Array {
  const w = new ByteWriter();
  coder.encode(value, w);
  return w.finish();
}

/**
 * A value's encoding as a string key for a map (latin1 of its bytes), through a reused writer: nothing is allocated
 * but the string (for per-element lookups by key).
 */
export function keyString<T>(coder: Coder<T>, value: T, w: ByteWriter): string {
  w.reset();
  coder.encode(value, w);
  const b = w.written();
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString("latin1");
}

/** Decodes one value that must take all of `bytes`. */
export function decodeFromBytes<T>(coder: Coder<T>, bytes: Uint8Array): T {
  const r = new ByteReader(bytes);
  const v = coder.decode(r);
  if (r.remaining !== 0) throw new RangeError(`${r.remaining} bytes left over after a ${coder.urn} value`);
  return v;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

export const BYTES: Coder<Uint8Array> = {
  urn: URNS.coders.BYTES as string,
  components: [],
  encode(v, w) {
    w.varint(v.length);
    w.bytes(v);
  },
  decode: (r) => r.bytes(r.varint()).slice(),
};

export const STRING_UTF8: Coder<string> = {
  urn: URNS.coders.STRING_UTF8 as string,
  components: [],
  encode(v, w) {
    const b = utf8.encode(v);
    w.varint(b.length);
    w.bytes(b);
  },
  decode: (r) => fromUtf8.decode(r.bytes(r.varint())),
};

/** Beam's varint coder; values within JavaScript's safe integers decode as numbers. */
export const VARINT: Coder<number> = {
  urn: URNS.coders.VARINT as string,
  components: [],
  encode: (v, w) => w.varint(v),
  decode: (r) => r.varint(),
};

export const DOUBLE: Coder<number> = {
  urn: URNS.coders.DOUBLE as string,
  components: [],
  encode: (v, w) => w.float64(v),
  decode: (r) => r.float64(),
};

export const BOOL: Coder<boolean> = {
  urn: URNS.coders.BOOL as string,
  components: [],
  encode: (v, w) => w.byte(v ? 1 : 0),
  decode(r) {
    const b = r.byte();
    if (b > 1) throw new RangeError(`a bool is 0 or 1, got ${b} at offset ${r.offset - 1}`);
    return b === 1;
  },
};

export function kvCoder<K, V>(key: Coder<K>, value: Coder<V>): Coder<readonly [K, V]> {
  return {
    urn: URNS.coders.KV as string,
    components: [key as Coder<unknown>, value as Coder<unknown>],
    encode(v, w) {
      key.encode(v[0], w);
      value.encode(v[1], w);
    },
    decode: (r) => [key.decode(r), value.decode(r)] as const,
  };
}

/**
 * Beam's iterable coder: a big-endian int32 count, then the elements; decodes also the form of unknown length
 * (count -1, then blocks of a varint count and its elements, ending with a 0 count).
 */
export function iterableCoder<T>(element: Coder<T>): Coder<readonly T[]> {
  return {
    urn: URNS.coders.ITERABLE as string,
    components: [element as Coder<unknown>],
    encode(v, w) {
      w.int32(v.length);
      for (const e of v) element.encode(e, w);
    },
    decode(r) {
      const n = r.int32();
      const out: T[] = [];
      if (n >= 0) {
        for (let i = 0; i < n; i++) out.push(element.decode(r));
        return out;
      }
      if (n !== -1) throw new RangeError(`iterable count ${n} at offset ${r.offset - 4}`);
      for (let block = r.varint(); block > 0; block = r.varint()) {
        for (let i = 0; i < block; i++) out.push(element.decode(r));
      }
      return out;
    },
  };
}

/** Beam's length prefix: a varint byte length, then the inner coder's bytes (opaque to a runner that lacks it). */
export function lengthPrefixCoder<T>(inner: Coder<T>): Coder<T> {
  return {
    urn: URNS.coders.LENGTH_PREFIX as string,
    components: [inner as Coder<unknown>],
    encode(v, w) {
      const b = encodeToBytes(inner, v);
      w.varint(b.length);
      w.bytes(b);
    },
    decode: (r) => decodeFromBytes(inner, r.bytes(r.varint())),
  };
}

/**
 * Beam's timestamps are int64 milliseconds from Long.MIN_VALUE / 1000 to Long.MAX_VALUE / 1000; Tidemark's are
 * JavaScript numbers within +-8.64e15 (the Date range). Tidemark's ends of time map to Beam's, and Beam's times
 * beyond Tidemark's range to Tidemark's ends.
 */
const BEAM_MIN_MS = -9223372036854775n;
const BEAM_MAX_MS = 9223372036854775n;
/** Both ends of the global window lie one day before the end of time. */
const DAY_MS = 86_400_000n;
const BEAM_END_OF_GLOBAL_WINDOW_MS = BEAM_MAX_MS - DAY_MS;
const END_OF_GLOBAL = BigInt(END_OF_GLOBAL_WINDOW);

/**
 * A Tidemark instant as Beam's: the ends of time to Beam's, and the last day before the end (from the end of the
 * global window) to Beam's last day, so the end of the global window is Beam's end of the global window.
 */
export function toBeamMs(t: number): bigint {
  if (t <= MIN_TIMESTAMP) return BEAM_MIN_MS;
  if (t >= MAX_TIMESTAMP) return BEAM_MAX_MS;
  if (t >= END_OF_GLOBAL_WINDOW) return BEAM_END_OF_GLOBAL_WINDOW_MS + BigInt(t - END_OF_GLOBAL_WINDOW);
  return BigInt(t);
}

/** Beam's instant as Tidemark's (the inverse of `toBeamMs`; Beam's times between the two ranges' ends clamp). */
function fromBeamMs(t: bigint): number {
  if (t <= BigInt(MIN_TIMESTAMP)) return MIN_TIMESTAMP;
  if (t >= BEAM_MAX_MS) return MAX_TIMESTAMP;
  if (t >= BEAM_END_OF_GLOBAL_WINDOW_MS) return Number(END_OF_GLOBAL + (t - BEAM_END_OF_GLOBAL_WINDOW_MS));
  if (t >= END_OF_GLOBAL) return END_OF_GLOBAL_WINDOW - 1;
  return Number(t);
}

/** Beam's InstantCoder: the milliseconds as a big-endian int64 with the sign bit flipped (byte order is time order). */
function writeInstant(t: number, w: ByteWriter): void {
  w.int64(BigInt.asIntN(64, toBeamMs(t) ^ -0x8000000000000000n));
}

function readInstant(r: ByteReader): number {
  return fromBeamMs(BigInt.asIntN(64, r.int64() ^ -0x8000000000000000n));
}

export const GLOBAL_WINDOW_CODER: Coder<BoundedWindow> = {
  urn: URNS.coders.GLOBAL_WINDOW as string,
  components: [],
  encode() {},
  decode: () => GlobalWindow.INSTANCE,
};

/** Beam's interval window: the end as an instant, then the span (end - start) as a varint. */
export const INTERVAL_WINDOW_CODER: Coder<BoundedWindow> = {
  urn: URNS.coders.INTERVAL_WINDOW as string,
  components: [],
  encode(v, w) {
    if (!(v instanceof IntervalWindow)) throw new TypeError(`not an interval window: ${v.toString()}`);
    writeInstant(v.end, w);
    w.varint(toBeamMs(v.end) - toBeamMs(v.start));
  },
  decode(r) {
    const endBeam = BigInt.asIntN(64, r.int64() ^ -0x8000000000000000n);
    const span = r.varintBig();
    return new IntervalWindow(fromBeamMs(endBeam - span), fromBeamMs(endBeam));
  },
};

const TIMINGS: readonly PaneTiming[] = ["EARLY", "ON_TIME", "LATE", "UNKNOWN"];

/**
 * Beam's PaneInfo encoding: one byte (is-first bit, is-last bit, timing in bits 2-3, and in the high nibble which
 * indices follow: none, the index, or the index and the on-time index), then those indices as varints.
 */
export function writePane(p: PaneInfo, w: ByteWriter): void {
  const low = (p.isFirst ? 1 : 0) | (p.isLast ? 2 : 0) | (TIMINGS.indexOf(p.timing) << 2);
  if ((p.index === 0 && p.nonSpeculativeIndex === 0) || p.timing === "UNKNOWN") {
    w.byte(low);
  } else if (p.index === p.nonSpeculativeIndex || p.timing === "EARLY") {
    w.byte(low | 0x10);
    w.varint(p.index);
  } else {
    w.byte(low | 0x20);
    w.varint(p.index);
    w.varint(p.nonSpeculativeIndex);
  }
}

export function readPane(r: ByteReader): PaneInfo {
  const b = r.byte();
  const timing = TIMINGS[(b >> 2) & 3] as PaneTiming;
  const isFirst = (b & 1) !== 0;
  const isLast = (b & 2) !== 0;
  switch (b >> 4) {
    case 0:
      if (isFirst && isLast && timing === "UNKNOWN") return NO_FIRING;
      return { isFirst, isLast, timing, index: 0, nonSpeculativeIndex: timing === "EARLY" ? -1 : 0 };
    case 1: {
      const index = r.varint();
      return { isFirst, isLast, timing, index, nonSpeculativeIndex: timing === "EARLY" ? -1 : index };
    }
    case 2: {
      const index = r.varint();
      return { isFirst, isLast, timing, index, nonSpeculativeIndex: r.varint() };
    }
    default:
      throw new RangeError(`unknown pane encoding ${b >> 4} at offset ${r.offset - 1}`);
  }
}

/** A value with its event time, windows and pane (Beam's WindowedValue). */
export interface WindowedValue<T> {
  readonly value: T;
  readonly timestamp: number;
  readonly windows: readonly BoundedWindow[];
  readonly pane: PaneInfo;
}

/** Beam's full windowed value coder: timestamp, windows (an iterable), pane, then the value. */
export function windowedValueCoder<T>(value: Coder<T>, window: Coder<BoundedWindow>): Coder<WindowedValue<T>> {
  const windows = iterableCoder(window);
  return {
    urn: URNS.coders.WINDOWED_VALUE as string,
    components: [value as Coder<unknown>, window as Coder<unknown>],
    encode(v, w) {
      writeInstant(v.timestamp, w);
      windows.encode(v.windows, w);
      writePane(v.pane, w);
      value.encode(v.value, w);
    },
    decode(r) {
      const timestamp = readInstant(r);
      const ws = windows.decode(r);
      const pane = readPane(r);
      return { timestamp, windows: ws, pane, value: value.decode(r) };
    },
  };
}

/** A timer as Beam's timer coder carries it (a cleared timer has no times and no pane). */
export interface TimerValue<K> {
  readonly userKey: K;
  readonly dynamicTimerTag: string;
  readonly windows: readonly BoundedWindow[];
  readonly clearBit: boolean;
  readonly fireTimestamp?: number;
  readonly holdTimestamp?: number;
  readonly pane?: PaneInfo;
}

export function timerCoder<K>(key: Coder<K>, window: Coder<BoundedWindow>): Coder<TimerValue<K>> {
  const windows = iterableCoder(window);
  return {
    urn: URNS.coders.TIMER as string,
    components: [key as Coder<unknown>, window as Coder<unknown>],
    encode(v, w) {
      key.encode(v.userKey, w);
      STRING_UTF8.encode(v.dynamicTimerTag, w);
      windows.encode(v.windows, w);
      BOOL.encode(v.clearBit, w);
      if (v.clearBit) return;
      writeInstant(v.fireTimestamp ?? MIN_TIMESTAMP, w);
      writeInstant(v.holdTimestamp ?? MIN_TIMESTAMP, w);
      writePane(v.pane ?? NO_FIRING, w);
    },
    decode(r) {
      const userKey = key.decode(r);
      const dynamicTimerTag = STRING_UTF8.decode(r);
      const ws = windows.decode(r);
      const clearBit = BOOL.decode(r);
      if (clearBit) return { userKey, dynamicTimerTag, windows: ws, clearBit };
      return {
        userKey,
        dynamicTimerTag,
        windows: ws,
        clearBit,
        fireTimestamp: readInstant(r),
        holdTimestamp: readInstant(r),
        pane: readPane(r),
      };
    },
  };
}

/** Tidemark's value coder (see `value-coder.ts`). */
export const VALUE: Coder<unknown> = valueCoder(() => new ByteWriter());

/** Tidemark's deterministic key coder (see `value-coder.ts`): what runners group by. */
export const KEY: Coder<unknown> = valueCoder(() => new ByteWriter(), true);
