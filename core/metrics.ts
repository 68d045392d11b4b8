/**
 * User metrics, as Beam's `Metrics` (`org.apache.beam.sdk.metrics.Metrics`): a DoFn asks for a counter, distribution
 * or gauge by namespace and name while the runner runs its code, and the value is kept per step by the runner (the
 * step is the metric's `PTRANSFORM`, as in Beam's monitoring infos). A handle is bound to the step that was running
 * when it was asked for, so a handle taken in `process` and used after an `await` (a write that completes later)
 * still counts for that step. Asked for outside any step (a test, a client callback), it counts in the process-wide
 * container, step `""`.
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

/** The metrics of one step (one per DoFn the runner runs). */
export class MetricsContainer {
  private readonly entries = new Map<string, Entry>();
  /** The step's index in `runningStep()` (one per step name in the process; 0 is no step). */
  readonly index: number;

  constructor(readonly step: string) {
    this.index = stepIndex(step);
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
   * bundle's own figures, as the Fn API reports them per bundle (the runner sums them).
   */
  takeValues(): UserMetric[] {
    const out: UserMetric[] = [];
    for (const e of this.entries.values()) {
      const c = e.cell;
      const changed = c instanceof CounterCell ? c.value !== 0 : c instanceof DistributionCell ? c.count > 0 : c.fresh;
      if (changed) out.push(this.valueOf(e));
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
 * its `ExecutionStateSampler`): the index of the entered container's step, 0 outside any step. Written with a plain
 * store on every enter and leave (about a nanosecond each), read with `Atomics.load` by the processing-time sampler
 * (`runners/observe/step-time.ts`); an aligned Int32 store never tears. Process-wide, as the container being run is:
 * one JavaScript thread runs the steps. Module-local (an exported binding costs the hot path more to write).
 */
const running = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));

/** The running step's index, in shared memory (see `running`): for a sampler on another thread. */
export function runningStep(): Int32Array {
  return running;
}

/** Step names by index (`runningStep()`), and back: one index per name, kept for the process's life (a few per job). */
const stepNames: string[] = [""];
const stepIndexes = new Map<string, number>([["", 0]]);

function stepIndex(step: string): number {
  let i = stepIndexes.get(step);
  if (i === undefined) {
    i = stepNames.length;
    stepNames.push(step);
    stepIndexes.set(step, i);
  }
  return i;
}

/** The step name of an index `runningStep()` holds (`""` for 0, outside any step); undefined for one never given. */
export function stepOfIndex(index: number): string | undefined {
  return stepNames[index];
}

/** The process-wide container: metrics asked for outside any step. */
export const UNATTRIBUTED = new MetricsContainer("");

let current: MetricsContainer = UNATTRIBUTED;

/**
 * Makes `container` the one `Metrics` resolves against and returns the one it replaces, which the caller puts back
 * (runners call this around user code; steps run inside each other when fused, so it nests). Its step becomes the
 * running one (`runningStep()`), for processing time.
 */
export function enterMetricsContainer(container: MetricsContainer): MetricsContainer {
  const previous = current;
  current = container;
  running[0] = container.index;
  return previous;
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
