import type { CombineFn } from "./combine-fn.ts";
import type { PaneInfo } from "./pane.ts";
import type { Instant } from "./time/instant.ts";
import type { BoundedWindow } from "./windows/window.ts";

/**
 * State and timers for stateful DoFns (Beam's @StateId / @TimerId). State is kept per key and window; it is
 * cleared when the window expires (its end plus the allowed lateness passes the watermark).
 */

/** A single value. */
export interface ValueState<T> {
  read(): T | undefined;
  write(value: T): void;
  clear(): void;
}

/** An unordered collection with cheap appends. */
export interface BagState<T> {
  add(value: T): void;
  read(): readonly T[];
  isEmpty(): boolean;
  clear(): void;
}

/** A value combined as inputs are added (a CombineFn's accumulator). */
export interface CombiningState<I, O> {
  add(input: I): void;
  read(): O;
  clear(): void;
}

/** A map from keys (grouped by value, as grouping keys are) to values. */
export interface MapState<K, V> {
  get(key: K): V | undefined;
  put(key: K, value: V): void;
  has(key: K): boolean;
  remove(key: K): void;
  entries(): readonly (readonly [K, V])[];
  size(): number;
  clear(): void;
}

/** A set of values (grouped by value, as grouping keys are). */
export interface SetState<T> {
  add(value: T): void;
  contains(value: T): boolean;
  remove(value: T): void;
  read(): readonly T[];
  size(): number;
  clear(): void;
}

/** A map from keys to several values each (Beam's MultimapState). */
export interface MultimapState<K, V> {
  put(key: K, value: V): void;
  get(key: K): readonly V[];
  remove(key: K): void;
  keys(): readonly K[];
  clear(): void;
}

/** Values sorted by a timestamp, read and cleared by ranges `[from, to)` (Beam's OrderedListState). */
export interface OrderedListState<T> {
  add(timestamp: Instant, value: T): void;
  read(): readonly { readonly timestamp: Instant; readonly value: T }[];
  readRange(from: Instant, to: Instant): readonly { readonly timestamp: Instant; readonly value: T }[];
  clearRange(from: Instant, to: Instant): void;
  isEmpty(): boolean;
  clear(): void;
}

/** The declared state cells: a discriminated union, with phantom types for the cell's values. */
export type StateSpec =
  | { readonly kind: "value"; readonly __value?: unknown }
  | { readonly kind: "bag"; readonly __value?: unknown }
  | { readonly kind: "combining"; readonly combineFn: CombineFn<unknown, unknown, unknown> }
  | { readonly kind: "map"; readonly __value?: unknown }
  | { readonly kind: "orderedList"; readonly __value?: unknown }
  | { readonly kind: "set"; readonly __value?: unknown }
  | { readonly kind: "multimap"; readonly __value?: unknown };

export interface ValueStateSpec<T> {
  readonly kind: "value";
  readonly __value?: T;
}
export interface BagStateSpec<T> {
  readonly kind: "bag";
  readonly __value?: T;
}
export interface CombiningStateSpec<I, A, O> {
  readonly kind: "combining";
  readonly combineFn: CombineFn<I, A, O>;
}
export interface MapStateSpec<K, V> {
  readonly kind: "map";
  readonly __value?: readonly [K, V];
}
export interface OrderedListStateSpec<T> {
  readonly kind: "orderedList";
  readonly __value?: T;
}

export interface SetStateSpec<T> {
  readonly kind: "set";
  readonly __value?: T;
}
export interface MultimapStateSpec<K, V> {
  readonly kind: "multimap";
  readonly __value?: readonly [K, V];
}

export const valueState = <T>(): ValueStateSpec<T> => ({ kind: "value" });
export const setState = <T>(): SetStateSpec<T> => ({ kind: "set" });
export const multimapState = <K, V>(): MultimapStateSpec<K, V> => ({ kind: "multimap" });
export const bagState = <T>(): BagStateSpec<T> => ({ kind: "bag" });
export const combiningState = <I, A, O>(combineFn: CombineFn<I, A, O>): CombiningStateSpec<I, A, O> => ({
  kind: "combining",
  combineFn,
});
export const mapState = <K, V>(): MapStateSpec<K, V> => ({ kind: "map" });
export const orderedListState = <T>(): OrderedListStateSpec<T> => ({ kind: "orderedList" });

/** The cell type a spec declares. */
export type StateOf<S> =
  S extends ValueStateSpec<infer T>
    ? ValueState<T>
    : S extends BagStateSpec<infer T>
      ? BagState<T>
      : S extends CombiningStateSpec<infer I, infer _A, infer O>
        ? CombiningState<I, O>
        : S extends MapStateSpec<infer K, infer V>
          ? MapState<K, V>
          : S extends OrderedListStateSpec<infer T>
            ? OrderedListState<T>
            : S extends SetStateSpec<infer T>
              ? SetState<T>
              : S extends MultimapStateSpec<infer K, infer V>
                ? MultimapState<K, V>
                : never;

export type TimeDomain = "event" | "processing";

/** A timer: `family` timers are addressed by an id (Beam's TimerFamily); others have one timer per key and window. */
export interface TimerSpec {
  readonly domain: TimeDomain;
  readonly family?: boolean;
}

/** A family of timers addressed by id. */
export interface TimerFamilySpec extends TimerSpec {
  readonly family: true;
}

export const eventTimer = (): TimerSpec => ({ domain: "event" });
export const processingTimer = (): TimerSpec => ({ domain: "processing" });
export const timerFamily = (domain: TimeDomain): TimerFamilySpec => ({ domain, family: true });

/**
 * A timer of the current key and window. Setting it again moves it; `clear` cancels it. The output timestamp is
 * the timestamp of what `onTimer` outputs and holds the output watermark until the timer fires (default: the
 * firing time for event-time timers, the current element's timestamp for processing-time timers).
 */
export interface Timer {
  set(time: Instant, opts?: { readonly outputTimestamp?: Instant }): void;
  /**
   * Sets the timer relative to now: the current processing time for a processing-time timer, the element's (or
   * firing timer's) timestamp for an event-time timer; plus `offsetMs`, then rounded up to the next multiple of
   * `alignToMs` if given (Beam's offset/align/setRelative).
   */
  setRelative(opts: {
    readonly offsetMs?: number;
    readonly alignToMs?: number;
    readonly outputTimestamp?: Instant;
  }): void;
  clear(): void;
  /** The time it is set for, or undefined. */
  time(): Instant | undefined;
}

export interface TimerFamily {
  get(id: string): Timer;
}

export type TimerOf<T extends TimerSpec> = T extends { readonly family: true } ? TimerFamily : Timer;

export type StateCells<S> = { readonly [K in keyof S]: StateOf<S[K]> };
export type TimerCells<T> = { readonly [K in keyof T]: T[K] extends TimerSpec ? TimerOf<T[K]> : never };

// biome-ignore lint/complexity/noBannedTypes: the empty record is the natural "no extra outputs".
type NoTags = {};

/** What a stateful DoFn sees in `process` and in `onTimer`: its key, window, state, timers, clocks and outputs. */
export interface StatefulContext<K, O, S, T, Tags extends object = NoTags> {
  readonly key: K;
  /** The element's timestamp, or the firing timer's output timestamp: the timestamp of what is output. */
  readonly timestamp: Instant;
  readonly window: BoundedWindow;
  readonly state: StateCells<S>;
  readonly timers: TimerCells<T>;
  /** The current processing time and input watermark. */
  readonly processingTime: Instant;
  readonly inputWatermark: Instant;
  output(value: O): void;
  outputWithTimestamp(value: O, timestamp: Instant): void;
  /** Outputs to a tagged output (declared with `statefulParDo(fn).withOutputs(...)`). */
  outputTo<N extends keyof Tags & string>(tag: N, value: Tags[N], timestamp?: Instant): void;
}

/** What a stateful DoFn sees while processing an element. */
export interface StatefulProcessContext<K, O, S, T, Tags extends object = NoTags>
  extends StatefulContext<K, O, S, T, Tags> {
  readonly pane: PaneInfo;
}

/** What a stateful DoFn sees when a timer fires. */
export interface OnTimerContext<K, O, S, T, Tags extends object = NoTags> extends StatefulContext<K, O, S, T, Tags> {
  /** The time the timer was set for. */
  readonly firingTime: Instant;
  readonly timerId: string;
  readonly domain: TimeDomain;
}

/**
 * A DoFn with per-key-and-window state and timers, applied to key-value elements. `onTimer` handlers are named like
 * the timers; `onWindowExpiration` runs once per key and window with state, just before its state is cleared.
 */
export interface StatefulDoFn<
  K,
  V,
  O,
  S extends Record<string, StateSpec>,
  T extends Record<string, TimerSpec>,
  Tags extends object = NoTags,
> {
  readonly state?: S;
  readonly timers?: T;
  /**
   * Like a DoFn's, `process`, the `onTimer` handlers and `onWindowExpiration` may return a promise (asynchronous
   * I/O), counted as the step's work in flight; state is read and written, and outputs made, during the call, before
   * the promise's first await.
   */
  process(element: readonly [K, V], ctx: StatefulProcessContext<K, O, S, T, Tags>): void | Promise<void>;
  readonly onTimer?: { readonly [N in keyof T]?: (ctx: OnTimerContext<K, O, S, T, Tags>) => void | Promise<void> };
  onWindowExpiration?(ctx: OnTimerContext<K, O, S, T, Tags>): void | Promise<void>;
  /** How far back `outputWithTimestamp` may move a timestamp. Default 0. */
  readonly allowedTimestampSkewMs?: number;
  /**
   * Deliver each key's elements to `process` in event-time order (Beam's @RequiresTimeSortedInput): an element is
   * held until the input watermark passes its timestamp plus the allowed lateness; later data is dropped and counted.
   */
  readonly requiresTimeSortedInput?: boolean;
}
