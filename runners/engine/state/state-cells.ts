import type { CombineFn } from "../../../core/combine-fn.ts";
import { groupingKey } from "../../../core/kv.ts";
import type {
  BagState,
  CombiningState,
  MapState,
  MultimapState,
  OrderedListState,
  SetState,
  StateSpec,
  ValueState,
} from "../../../core/state.ts";
import { assertNever } from "../../../core/util/assert-never.ts";

/**
 * The in-memory state cells of one key and window. Each reports whether it holds anything (for memory checks), and
 * gives its contents as plain data for a checkpoint (`snapshot`) and takes them back (`restore`, on an empty cell).
 */
export interface Cell {
  isEmptyCell(): boolean;
  clear(): void;
  snapshot(): unknown;
  restore(data: unknown): void;
}

class ValueCell<T> implements ValueState<T>, Cell {
  private has = false;
  private value: T | undefined = undefined;
  read(): T | undefined {
    return this.value;
  }
  write(value: T): void {
    this.value = value;
    this.has = true;
  }
  clear(): void {
    this.value = undefined;
    this.has = false;
  }
  isEmptyCell(): boolean {
    return !this.has;
  }
  snapshot(): unknown {
    return this.value;
  }
  restore(data: unknown): void {
    this.write(data as T);
  }
}

class BagCell<T> implements BagState<T>, Cell {
  private items: T[] = [];
  add(value: T): void {
    this.items.push(value);
  }
  read(): readonly T[] {
    return this.items.slice();
  }
  isEmpty(): boolean {
    return this.items.length === 0;
  }
  clear(): void {
    this.items = [];
  }
  isEmptyCell(): boolean {
    return this.items.length === 0;
  }
  snapshot(): unknown {
    return this.items;
  }
  restore(data: unknown): void {
    this.items = [...(data as T[])];
  }
}

class CombiningCell<I, A, O> implements CombiningState<I, O>, Cell {
  private acc: A | undefined = undefined;
  constructor(private readonly fn: CombineFn<I, A, O>) {}
  add(input: I): void {
    this.acc = this.fn.addInput(this.acc === undefined ? this.fn.createAccumulator() : this.acc, input);
  }
  read(): O {
    return this.fn.extractOutput(this.acc === undefined ? this.fn.createAccumulator() : this.acc);
  }
  clear(): void {
    this.acc = undefined;
  }
  isEmptyCell(): boolean {
    return this.acc === undefined;
  }
  snapshot(): unknown {
    return this.acc;
  }
  restore(data: unknown): void {
    this.acc = data as A;
  }
}

/**
 * Values by grouping key. Keys that are their own grouping key (strings, numbers, booleans: most keys) are not stored
 * twice; other keys are kept beside, to give them back in `entries`.
 */
class MapCell<K, V> implements MapState<K, V>, Cell {
  private readonly values = new Map<string | number | boolean, V>();
  /** The original keys whose grouping key is not the key itself (objects, arrays, ...). */
  private readonly objectKeys = new Map<string | number | boolean, K>();
  get(key: K): V | undefined {
    return this.values.get(groupingKey(key));
  }
  put(key: K, value: V): void {
    const gk = groupingKey(key);
    if (gk !== (key as unknown)) this.objectKeys.set(gk, key);
    this.values.set(gk, value);
  }
  has(key: K): boolean {
    return this.values.has(groupingKey(key));
  }
  remove(key: K): void {
    const gk = groupingKey(key);
    if (this.values.delete(gk) && this.objectKeys.size > 0) this.objectKeys.delete(gk);
  }
  entries(): readonly (readonly [K, V])[] {
    const out: (readonly [K, V])[] = [];
    const objectKeys = this.objectKeys;
    for (const [gk, v] of this.values) {
      out.push([objectKeys.size > 0 && objectKeys.has(gk) ? (objectKeys.get(gk) as K) : (gk as K), v]);
    }
    return out;
  }
  size(): number {
    return this.values.size;
  }
  clear(): void {
    this.values.clear();
    this.objectKeys.clear();
  }
  isEmptyCell(): boolean {
    return this.values.size === 0;
  }
  snapshot(): unknown {
    return this.entries();
  }
  restore(data: unknown): void {
    for (const [k, v] of data as [K, V][]) this.put(k, v);
  }
}

class SetCell<T> implements SetState<T>, Cell {
  private readonly items = new Map<string | number | boolean, T>();
  add(value: T): void {
    this.items.set(groupingKey(value), value);
  }
  contains(value: T): boolean {
    return this.items.has(groupingKey(value));
  }
  remove(value: T): void {
    this.items.delete(groupingKey(value));
  }
  read(): readonly T[] {
    return [...this.items.values()];
  }
  size(): number {
    return this.items.size;
  }
  clear(): void {
    this.items.clear();
  }
  isEmptyCell(): boolean {
    return this.items.size === 0;
  }
  snapshot(): unknown {
    return this.read();
  }
  restore(data: unknown): void {
    for (const v of data as T[]) this.add(v);
  }
}

class MultimapCell<K, V> implements MultimapState<K, V>, Cell {
  private readonly map = new Map<string | number | boolean, { key: K; values: V[] }>();
  put(key: K, value: V): void {
    const gk = groupingKey(key);
    const e = this.map.get(gk);
    if (e) e.values.push(value);
    else this.map.set(gk, { key, values: [value] });
  }
  get(key: K): readonly V[] {
    return this.map.get(groupingKey(key))?.values.slice() ?? [];
  }
  remove(key: K): void {
    this.map.delete(groupingKey(key));
  }
  keys(): readonly K[] {
    return [...this.map.values()].map((e) => e.key);
  }
  clear(): void {
    this.map.clear();
  }
  isEmptyCell(): boolean {
    return this.map.size === 0;
  }
  snapshot(): unknown {
    return [...this.map.values()].map((e) => [e.key, e.values]);
  }
  restore(data: unknown): void {
    for (const [k, values] of data as [K, V[]][]) for (const v of values) this.put(k, v);
  }
}

interface Stamped<T> {
  readonly timestamp: number;
  readonly value: T;
}

/**
 * Kept sorted by timestamp (stable for equal timestamps); binary search for inserts and ranges. Stored in columns:
 * the timestamps in a Float64Array, the values in an array, live between `head` and `size` (entries cleared from the
 * front, as a sweep of expired ids clears them, only move `head`). An entry costs 12 bytes and its value, where an
 * object per entry cost 66 (measured with 300,000 entries: this list is Silver's de-duplication order, one entry per
 * distinct event id in the horizon).
 */
class OrderedListCell<T> implements OrderedListState<T>, Cell {
  private times = new Float64Array(0);
  private values: T[] = [];
  private head = 0;
  private size = 0;
  add(timestamp: number, value: T): void {
    if (this.size === this.times.length) this.grow();
    // Values mostly come in time order: appending needs no search.
    const at =
      this.size === this.head || (this.times[this.size - 1] as number) <= timestamp
        ? this.size
        : this.upperBound(timestamp);
    if (at < this.size) {
      this.times.copyWithin(at + 1, at, this.size);
      this.values.splice(at, 0, value);
    } else this.values[at] = value;
    this.times[at] = timestamp;
    this.size++;
    if (this.values.length > this.size) this.values.length = this.size;
  }
  read(): readonly Stamped<T>[] {
    return this.slice(this.head, this.size);
  }
  readRange(from: number, to: number): readonly Stamped<T>[] {
    return this.slice(this.lowerBound(from), this.lowerBound(to));
  }
  clearRange(from: number, to: number): void {
    const a = this.lowerBound(from);
    const b = this.lowerBound(to);
    if (b <= a) return;
    // Cleared values are let go at once (they may be large).
    this.values.fill(undefined as T, a, b);
    if (a === this.head) this.head = b;
    else {
      this.times.copyWithin(a, b, this.size);
      this.values.copyWithin(a, b, this.size);
      this.size -= b - a;
      this.values.length = this.size;
    }
    if (this.head === this.size) this.clear();
    else if (this.head > this.size - this.head) this.compact(this.times.length);
  }
  isEmpty(): boolean {
    return this.size === this.head;
  }
  clear(): void {
    this.times = new Float64Array(0);
    this.values = [];
    this.head = 0;
    this.size = 0;
  }
  isEmptyCell(): boolean {
    return this.size === this.head;
  }
  snapshot(): unknown {
    return this.read();
  }
  restore(data: unknown): void {
    for (const { timestamp, value } of data as Stamped<T>[]) this.add(timestamp, value);
  }
  private slice(a: number, b: number): Stamped<T>[] {
    const out: Stamped<T>[] = new Array(Math.max(0, b - a));
    for (let i = a; i < b; i++) out[i - a] = { timestamp: this.times[i] as number, value: this.values[i] as T };
    return out;
  }
  /** Room for more: the live entries moved to the front, the capacity doubled when more than half full. */
  private grow(): void {
    const live = this.size - this.head;
    this.compact(live * 2 >= this.times.length ? Math.max(8, this.times.length * 2) : this.times.length);
  }
  /** Moves the live entries to the front of columns of `capacity`. */
  private compact(capacity: number): void {
    const live = this.size - this.head;
    const times = capacity === this.times.length ? this.times : new Float64Array(capacity);
    if (times === this.times) times.copyWithin(0, this.head, this.size);
    else times.set(this.times.subarray(this.head, this.size));
    this.times = times;
    this.values = this.head === 0 ? this.values : this.values.slice(this.head, this.size);
    this.head = 0;
    this.size = live;
  }
  /** First index with timestamp >= t. */
  private lowerBound(t: number): number {
    let lo = this.head;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.times[mid] as number) < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  /** First index with timestamp > t. */
  private upperBound(t: number): number {
    let lo = this.head;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.times[mid] as number) <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** A new, empty cell for a declared state. */
export function newCell(spec: StateSpec): Cell {
  switch (spec.kind) {
    case "value":
      return new ValueCell();
    case "bag":
      return new BagCell();
    case "combining":
      return new CombiningCell(spec.combineFn);
    case "map":
      return new MapCell();
    case "orderedList":
      return new OrderedListCell();
    case "set":
      return new SetCell();
    case "multimap":
      return new MultimapCell();
    default:
      return assertNever(spec);
  }
}
