/**
 * User metrics, as Beam's `Metrics` (`org.apache.beam.sdk.metrics.Metrics`): a DoFn asks for a counter, distribution
 * or gauge by namespace and name while the runner runs its code, and the value is kept per step by the runner (the
 * step is the metric's `PTRANSFORM`, as in Beam's monitoring infos). A handle is bound to the step that was running
 * when it was asked for, so a handle taken in `process` and used after an `await` (a write that completes later)
 * still counts for that step. Asked for outside any step (a test, a client callback), it counts in the process-wide
 * container, step `""`. The code after an `await` runs in no step: its `Metrics` calls and its processing time are the
 * step's only when it runs in the step's container again (`runInMetricsContainer`).
 *
 * `labels` are Tidemark's addition (Beam's metric names have none): a reason, a table. They are part of the metric's
 * identity, kept in a fixed order. As in Beam, counters and distributions take whole numbers (int64 in the Fn API's
 * monitoring infos: report milliseconds, not fractions of seconds); a gauge takes any finite number.
 */
export type MetricLabels = Readonly<Record<string, string>>;

export interface Counter {
  inc(n?: number): void;
  dec(n?: number): void;
}

/** Beam's distribution: the count, sum, min and max of the values reported. */
export interface Distribution {
  update(value: number): void;
}

/** Beam's gauge: the latest value set, with when it was set (wall clock ms). */
export interface Gauge {
  set(value: number): void;
}

export interface DistributionValue {
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
}

export type MetricValue =
  | { readonly kind: "counter"; readonly value: number }
  | ({ readonly kind: "distribution" } & DistributionValue)
  | { readonly kind: "gauge"; readonly value: number; readonly timestampMs: number };

/** One metric of one step, as the runner reports it. */
export type UserMetric = {
  readonly step: string;
  readonly namespace: string;
  readonly name: string;
  readonly labels: MetricLabels;
} & MetricValue;

function whole(n: number, what: string): number {
  if (!Number.isSafeInteger(n)) throw new RangeError(`${what} takes whole numbers (as Beam's int64), got ${n}`);
  return n;
}

class CounterCell implements Counter {
  value = 0;
  inc(n = 1): void {
    this.value += whole(n, "a counter");
  }
  dec(n = 1): void {
    this.value -= whole(n, "a counter");
  }
  reset(): void {
    this.value = 0;
  }
}

class DistributionCell implements Distribution {
  count = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  update(value: number): void {
    whole(value, "a distribution");
    this.count++;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }
  reset(): void {
    this.count = 0;
    this.sum = 0;
    this.min = Number.POSITIVE_INFINITY;
    this.max = Number.NEGATIVE_INFINITY;
  }
}

class GaugeCell implements Gauge {
  value = Number.NaN;
  timestampMs = 0;
  /** Set since the last `takeValues`. */
  fresh = false;
  set(value: number): void {
    if (!Number.isFinite(value)) throw new RangeError(`a gauge takes finite numbers, got ${value}`);
    this.value = value;
    this.timestampMs = Date.now();
    this.fresh = true;
  }
  reset(): void {
    this.fresh = false;
  }
}

type Cell = CounterCell | DistributionCell | GaugeCell;

interface Entry {
  readonly namespace: string;
  readonly name: string;
  readonly labels: MetricLabels;
  readonly cell: Cell;
}

/**
 * The metrics of one step of one job (one per step whose code a runner runs: a DoFn, a grouping, a WindowInto, a
 * combine's part), and its processing-time slot: while the runner runs the step's code in it (`enterMetricsContainer`),
 * `runningStep()` holds its slot, so a sampler on another thread can tell which container's code runs
 * (`runners/observe/step-time.ts`). Each container has a slot of its own (two jobs with a step of the same name never
 * share one), taken when it is made and given back by `release()` when its runner tears the step down.
 */
export class MetricsContainer {
  private readonly entries = new Map<string, Entry>();
  /** The entries `takeValues` has given at least once. */
  private readonly taken = new WeakSet<Entry>();
  /**
   * What entering the container writes to `runningStep()`: its slot while it has one, 0 (no step: "other") once
   * released or when it was made without one.
   */
  index: number;
  /** Its slot in `runningStep()` and the samplers' counts, for its whole life (0: none). */
  readonly slot: number;
  /** The slot's generation when this container took it (`stepSlotGenerations()`): who owns a reused slot. */
  readonly generation: number;

  /** `timed: false`: no slot (its code's time is "other"; `UNATTRIBUTED`). */
  constructor(
    readonly step: string,
    options: { readonly timed?: boolean } = {},
  ) {
    this.slot = options.timed === false ? 0 : takeSlot();
    this.index = this.slot;
    this.generation = this.slot === 0 ? 0 : Atomics.add(generations, this.slot, 1) + 1;
    if (this.slot !== 0) unreleased.register(this, this.slot, this);
  }

  /**
   * Gives the slot back (the runner's teardown of the step): entering the container afterwards counts as "other",
   * and a later container may take the slot. Its metrics stay readable. Idempotent.
   */
  release(): void {
    if (this.index === 0) return;
    this.index = 0;
    unreleased.unregister(this);
    freeSlots.push(this.slot);
  }

  counter(namespace: string, name: string, labels?: MetricLabels): Counter {
    return this.cell(namespace, name, labels, CounterCell);
  }

  distribution(namespace: string, name: string, labels?: MetricLabels): Distribution {
    return this.cell(namespace, name, labels, DistributionCell);
  }

  gauge(namespace: string, name: string, labels?: MetricLabels): Gauge {
    return this.cell(namespace, name, labels, GaugeCell);
  }

  /**
   * What changed since the last call, and starts again from zero (counters, distributions; gauges set since): a
   * bundle's own figures, as the Fn API reports them per bundle (the runner sums them). A counter is also given the
   * first time, at 0: a counter the step made and never counted (a sink's write errors) is then known to the runner,
   * and served at 0 as the direct runner serves it.
   */
  takeValues(): UserMetric[] {
    const out: UserMetric[] = [];
    for (const e of this.entries.values()) {
      const c = e.cell;
      const changed =
        c instanceof CounterCell
          ? c.value !== 0 || !this.taken.has(e)
          : c instanceof DistributionCell
            ? c.count > 0
            : c.fresh;
      if (changed) out.push(this.valueOf(e));
      this.taken.add(e);
      c.reset();
    }
    return out;
  }

  /** Every metric asked for so far, with its value. */
  values(): UserMetric[] {
    return [...this.entries.values()].map((e) => this.valueOf(e));
  }

  private valueOf({ namespace, name, labels, cell }: Entry): UserMetric {
    const id = { step: this.step, namespace, name, labels };
    if (cell instanceof CounterCell) return { ...id, kind: "counter", value: cell.value };
    if (cell instanceof DistributionCell) {
      return { ...id, kind: "distribution", count: cell.count, sum: cell.sum, min: cell.min, max: cell.max };
    }
    return { ...id, kind: "gauge", value: cell.value, timestampMs: cell.timestampMs };
  }

  private cell<C extends Cell>(
    namespace: string,
    name: string,
    labels: MetricLabels | undefined,
    kind: new () => C,
  ): C {
    const key =
      labels === undefined ? `${namespace}\u0000${name}` : `${namespace}\u0000${name}\u0000${labelKey(labels)}`;
    const found = this.entries.get(key);
    if (found !== undefined) {
      if (!(found.cell instanceof kind)) {
        throw new Error(`metric ${namespace}/${name} in step "${this.step}" is already a ${cellKind(found.cell)}`);
      }
      return found.cell;
    }
    const cell = new kind();
    this.entries.set(key, { namespace, name, labels: sortedLabels(labels), cell });
    return cell;
  }
}

function cellKind(c: Cell): string {
  return c instanceof CounterCell ? "counter" : c instanceof DistributionCell ? "distribution" : "gauge";
}

function sortedLabels(labels: MetricLabels | undefined): MetricLabels {
  if (labels === undefined) return {};
  const out: Record<string, string> = {};
  for (const k of Object.keys(labels).sort()) out[k] = labels[k] as string;
  return out;
}

function labelKey(labels: MetricLabels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join("\u0001");
}

/**
 * The step whose code is running, as a small integer another thread can read (`[0]`; Beam's execution state, read by
 * its `ExecutionStateSampler`): the slot of the entered container, 0 outside any step. Written with a plain store on
 * every enter and leave (about a nanosecond each), read with `Atomics.load` by the processing-time sampler
 * (`runners/observe/step-time.ts`); an aligned Int32 store never tears. Process-wide, as the container being run is:
 * one JavaScript thread runs the steps. Module-local (an exported binding costs the hot path more to write).
 */
const running = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));

/**
 * How many slots there are (slot 0 included, which is no step). A container made while every other slot is taken
 * (thousands of steps alive at once) gets none: its time is "other" and a sampler reports none for it.
 */
export const STEP_SLOTS = 4096;

/**
 * Per slot, how many containers have taken it (shared memory, written with `Atomics`): a sampler keeps a slot's count
 * for the generation it last saw, and starts it again from zero when a new container owns the slot.
 */
const generations = new Int32Array(new SharedArrayBuffer(STEP_SLOTS * Int32Array.BYTES_PER_ELEMENT));

/** Slots never taken start at `nextSlot`; those given back wait in `freeSlots`, oldest first (reused last). */
let nextSlot = 1;
const freeSlots: number[] = [];

/** Gives back the slot of a container collected without `release()` (a plan that failed to build): none is lost. */
const unreleased = new FinalizationRegistry<number>((slot) => {
  freeSlots.push(slot);
});

function takeSlot(): number {
  if (nextSlot < STEP_SLOTS) return nextSlot++;
  return freeSlots.shift() ?? 0;
}

/** The running step's slot, in shared memory (see `running`): for a sampler on another thread. */
export function runningStep(): Int32Array {
  return running;
}

/** Each slot's generation, in shared memory (see `generations`): for a sampler on another thread. */
export function stepSlotGenerations(): Int32Array {
  return generations;
}

/** The process-wide container: metrics asked for outside any step. */
export const UNATTRIBUTED = new MetricsContainer("", { timed: false });

let current: MetricsContainer = UNATTRIBUTED;

/**
 * Makes `container` the one `Metrics` resolves against and returns the one it replaces, which the caller puts back
 * (runners call this around user code; steps run inside each other when fused, so it nests). Its slot becomes the
 * running one (`runningStep()`), for processing time.
 */
export function enterMetricsContainer(container: MetricsContainer): MetricsContainer {
  const previous = current;
  current = container;
  running[0] = container.index;
  return previous;
}

/**
 * Runs `f` in `container` (its `Metrics` and its processing time) and returns what `f` returns. For a step's work that
 * goes on after its call returned, which runs in no step (the code after an `await`, a callback): keep
 * `currentMetricsContainer()` while the call runs, and run each synchronous part after an await through this. A
 * promise `f` returns is not followed: only the code up to its first `await` runs in the container.
 */
export function runInMetricsContainer<T>(container: MetricsContainer, f: () => T): T {
  const outer = enterMetricsContainer(container);
  try {
    return f();
  } finally {
    enterMetricsContainer(outer);
  }
}

/** The container of the step whose code is running (to keep for work that completes after the call returns). */
export function currentMetricsContainer(): MetricsContainer {
  return current;
}

/** Beam's `Metrics`: metrics of the step whose code is running. */
export const Metrics = {
  counter: (namespace: string, name: string, labels?: MetricLabels): Counter =>
    current.counter(namespace, name, labels),
  distribution: (namespace: string, name: string, labels?: MetricLabels): Distribution =>
    current.distribution(namespace, name, labels),
  gauge: (namespace: string, name: string, labels?: MetricLabels): Gauge => current.gauge(namespace, name, labels),
};
