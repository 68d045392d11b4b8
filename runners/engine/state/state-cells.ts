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

/** Kept sorted by timestamp (stable for equal timestamps); binary search for inserts and ranges. */
class OrderedListCell<T> implements OrderedListState<T>, Cell {
  private items: Stamped<T>[] = [];
  add(timestamp: number, value: T): void {
    const items = this.items;
    // Values mostly come in time order: appending needs no search.
    const last = items[items.length - 1];
    if (last === undefined || last.timestamp <= timestamp) items.push({ timestamp, value });
    else items.splice(this.upperBound(timestamp), 0, { timestamp, value });
  }
  read(): readonly Stamped<T>[] {
    return this.items.slice();
  }
  readRange(from: number, to: number): readonly Stamped<T>[] {
    return this.items.slice(this.lowerBound(from), this.lowerBound(to));
  }
  clearRange(from: number, to: number): void {
    const a = this.lowerBound(from);
    const b = this.lowerBound(to);
    if (b > a) this.items.splice(a, b - a);
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
    this.items = [...(data as Stamped<T>[])];
  }
  /** First index with timestamp >= t. */
  private lowerBound(t: number): number {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.items[mid] as Stamped<T>).timestamp < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  /** First index with timestamp > t. */
  private upperBound(t: number): number {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.items[mid] as Stamped<T>).timestamp <= t) lo = mid + 1;
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
