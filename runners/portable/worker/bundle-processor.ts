import { enterMetricsContainer, MetricsContainer, UNATTRIBUTED } from "../../../core/metrics.ts";
import type { StepTimes } from "../../observe/step-time.ts";
import {
  type MonitoringInfoShape,
  type MonitoringShortIds,
  processBundleMsecsInfo,
  userMonitoringInfos,
} from "../user-metrics.ts";
import { fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import type { CombineFn } from "../../../core/combine-fn.ts";
import type { DoFn } from "../../../core/do-fn.ts";
import type { AnyView } from "../../../core/view.ts";
import { NO_FIRING, type PaneInfo } from "../../../core/pane.ts";
import type { PipelineGraph } from "../../../core/pipeline.ts";
import type { PCollectionId, TransformNode } from "../../../core/primitives.ts";
import type { CheckpointMark, SourceReader } from "../../../core/source.ts";
import type { WindowingStrategy } from "../../../core/windowing-strategy.ts";
import { assignWindows, GLOBAL_WINDOWS, type WindowFn } from "../../../core/windows/window-fn.ts";
import { type BoundedWindow, GLOBAL_WINDOW, type IntervalWindow } from "../../../core/windows/window.ts";
import { AsyncWork } from "../../fn/async-work.ts";
import { DoFnRunner } from "../../fn/do-fn-runner.ts";
import { ElementMeta, type Receiver, receiverOf } from "../../fn/receiver.ts";
import { StepError } from "../../fn/step-error.ts";
import { ByteReader, ByteWriter } from "../coders/bytes.ts";
import { type Coder, keyString, type TimerValue, type WindowedValue } from "../coders/standard-coders.ts";
import {
  type ProcessBundleDescriptor,
  type ProcessBundleResponseSchema,
  RemoteGrpcPortSchema,
} from "../proto/generated/org/apache/beam/model/fn_execution/v1/beam_fn_api_pb.ts";
import {
  CombinePayloadSchema,
  IsBounded_Enum,
  ParDoPayloadSchema,
  type PTransform,
} from "../proto/generated/org/apache/beam/model/pipeline/v1/beam_runner_api_pb.ts";
import { countingConsumers, type TranslationChoices, workerMadePCollections } from "../runner-made.ts";
import { TIDEMARK_URNS } from "../translate.ts";
import { URNS } from "../urns.ts";
import { CoderTable } from "./coder-table.ts";
import type { DataChannel } from "./data-channel.ts";
import { FnStatefulStep } from "./fn-stateful.ts";
import { SideInputParDo, type SideInputSpec } from "./side-inputs.ts";
import type { StateChannel } from "./state-channel.ts";

/** The runner's data ports in a bundle descriptor (Beam's `RemoteGrpcRead` / `RemoteGrpcWrite`). */
export const DATA_INPUT_URN = "beam:runner:source:v1";
export const DATA_OUTPUT_URN = "beam:runner:sink:v1";
/** Beam's standard monitoring info of elements per PCollection, and its type. */
const ELEMENT_COUNT_URN = "beam:metric:element_count:v1";
const SUM_INT64_TYPE = "beam:metrics:sum_int64:v1";

/** What a bundle processor needs of its worker: the pipeline module's graph, and the runner's channels. */
export interface WorkerServices {
  readonly graph: PipelineGraph;
  /** The worker's short ids of monitoring infos (every bundle's metrics go out under them). */
  readonly shortIds: MonitoringShortIds;
  data(url: string): DataChannel;
  state(url: string): StateChannel;
  /** Per-step processing time (`runners/observe/step-time.ts`), when it is wanted: each bundle reports its part. */
  readonly stepTimes?: () => StepTimes;
  /** What the translation left to the runner (the launcher's `TranslationChoices`): where each PCollection is made. */
  readonly choices?: TranslationChoices;
}

type BundleResponse = MessageInitShape<typeof ProcessBundleResponseSchema>;

/** Counts the elements of one PCollection on their way to its consumers. */
class Counted implements Receiver {
  count = 0;
  constructor(private readonly target: Receiver) {}
  receive(value: unknown, meta: ElementMeta): void {
    this.count++;
    this.target.receive(value, meta);
  }
}

/**
 * Encodes a PCollection's elements into the runner's data port, in blocks of about a megabyte. The runner's work, not
 * the producing step's: it runs outside any step's metrics container (its processing time is other).
 */
class DataSink implements Receiver {
  private readonly writer = new ByteWriter();
  instructionId = "";
  constructor(
    readonly transformId: string,
    private readonly coder: Coder<WindowedValue<unknown>>,
    private readonly channel: DataChannel,
  ) {}
  /** Rewritten for every element (the coder reads it during `encode` only): nothing is allocated per element. */
  private readonly scratch: { value: unknown; timestamp: number; windows: readonly BoundedWindow[]; pane: PaneInfo } = {
    value: undefined,
    timestamp: 0,
    windows: [],
    pane: NO_FIRING,
  };
  receive(value: unknown, meta: ElementMeta): void {
    const outer = enterMetricsContainer(UNATTRIBUTED);
    try {
      const wv = this.scratch;
      wv.value = value;
      wv.timestamp = meta.timestamp;
      wv.windows = meta.windows;
      wv.pane = meta.pane;
      this.coder.encode(wv, this.writer);
      if (this.writer.length >= 1 << 20) this.flush(false);
    } finally {
      enterMetricsContainer(outer);
    }
  }
  /** Drops what a failed bundle left unsent. */
  reset(): void {
    this.writer.reset();
  }
  flush(isLast: boolean): void {
    if (this.writer.length === 0 && !isLast) return;
    this.channel.sendData(this.instructionId, this.transformId, this.writer.finish(), isLast);
    this.writer.reset();
  }
}

/** Decodes the runner's blocks for a data input and pushes the elements on (after reading a stateful step's state). */
class DataSource {
  private readonly meta = new ElementMeta();
  constructor(
    readonly transformId: string,
    /** The PCollection it produces. */
    readonly output: string,
    private readonly coder: Coder<WindowedValue<unknown>>,
    private readonly target: Receiver,
    /** A stateful step this input feeds directly: its keys' state is read before a block is processed. */
    private readonly stateful: FnStatefulStep | undefined,
  ) {}
  async consume(bytes: Uint8Array): Promise<void> {
    const r = new ByteReader(bytes);
    if (this.stateful === undefined) {
      while (r.remaining > 0) {
        const wv = this.coder.decode(r);
        this.target.receive(wv.value, this.meta.set(wv.timestamp, wv.windows, wv.pane));
      }
      return;
    }
    const items: WindowedValue<unknown>[] = [];
    while (r.remaining > 0) items.push(this.coder.decode(r));
    await this.stateful.prefetch(
      items.map((wv) => ({ key: (wv.value as readonly unknown[])[0], windows: wv.windows })),
    );
    for (const wv of items) this.target.receive(wv.value, this.meta.set(wv.timestamp, wv.windows, wv.pane));
  }
}

/** Reads a Tidemark source in the worker (the `read` translation: Impulse, then this step), all of it. */
class ReadSource implements Receiver {
  private readonly meta = new ElementMeta();
  readonly pending: Promise<void>[] = [];
  /** Marks of what this bundle's reads gave, finalized once the runner has committed the bundle. */
  readonly marks: CheckpointMark[] = [];
  /** Set when the bundle failed: a read still running stops before its next output. */
  private generation = 0;
  constructor(
    private readonly step: string,
    private readonly node: TransformNode,
    private readonly target: Receiver,
  ) {}
  receive(): void {
    const read = this.readAll(this.generation);
    // Its error is the bundle's, when the bundle awaits its reads; until then it is not an unhandled rejection (a
    // DoFn fused after the read can fail before the bundle's last input has come).
    read.catch(() => {});
    this.pending.push(read);
  }
  /** Abandons the reads of a failed bundle (they stop at their next event, and their errors are not reported). */
  reset(): void {
    this.generation++;
    this.marks.length = 0;
    for (const p of this.pending.splice(0)) p.catch(() => {});
  }
  private async readAll(generation: number): Promise<void> {
    const p = this.node.primitive;
    if (p?.kind !== "read") throw new Error(`step "${this.step}" is not a read`);
    const reader: SourceReader<unknown> = p.source.open();
    try {
      for (;;) {
        const event = await reader.next();
        if (event === undefined || generation !== this.generation) break;
        if (event.kind !== "elements") continue;
        for (let i = 0; i < event.values.length; i++) {
          this.target.receive(event.values[i], this.meta.set(event.timestamps[i] as number, GLOBAL_WINDOWS, NO_FIRING));
        }
      }
      const mark = reader.checkpointMark?.();
      if (mark !== undefined && mark.size > 0 && generation === this.generation) this.marks.push(mark);
    } catch (e) {
      throw e instanceof StepError ? e : new StepError(this.step, undefined, undefined, e, "reading its source");
    } finally {
      await reader.close?.();
    }
  }
}

/** Turns what a runner's native connector delivers (an encoded Pub/Sub message) into the source's element. */
class NativeDecode implements Receiver {
  constructor(
    private readonly step: string,
    private readonly decode: (bytes: Uint8Array) => unknown,
    private readonly target: Receiver,
  ) {}
  receive(value: unknown, meta: ElementMeta): void {
    let element: unknown;
    try {
      element = this.decode(value as Uint8Array);
    } catch (e) {
      throw new StepError(this.step, meta.timestamp, meta.windows[0], e, "decoding what the runner read");
    }
    this.target.receive(element, meta);
  }
}

/** Beam's WindowInto: each element's windows assigned by the window function, in the step's metrics container. */
class AssignWindows implements Receiver {
  private readonly meta = new ElementMeta();
  constructor(
    private readonly fn: WindowFn,
    private readonly target: Receiver,
    readonly metrics: MetricsContainer,
  ) {}
  receive(value: unknown, meta: ElementMeta): void {
    const outer = enterMetricsContainer(this.metrics);
    try {
      this.target.receive(
        value,
        this.meta.set(meta.timestamp, assignWindows(this.fn, meta.timestamp, meta.windows), meta.pane),
      );
    } finally {
      enterMetricsContainer(outer);
    }
  }
}

/** A window's key in a map: the global window, or an interval's bounds. */
function windowKey(w: BoundedWindow): string {
  return w === GLOBAL_WINDOW ? "g" : `${w.maxTimestamp}:${(w as { start?: number }).start ?? ""}`;
}

/**
 * The first part of a lifted combine (Beam's combine_per_key_precombine): within the bundle, the values of each key
 * and window are added to one accumulator, output when the bundle ends at the timestamp the windowing's timestamp
 * combiner gives (the window's end, or the earliest or latest input). Keys are told apart by their key coder's
 * bytes, as the runner groups them.
 *
 * With session windows over a bounded input, a key's overlapping windows are merged here already (their
 * accumulators merged, the window their span), as the runner would merge them: merging is associative, so the result
 * is the same, and the runner groups one element per session of the bundle instead of one per event. Only over a
 * bounded input: there the watermark passes no window before all the input is in, so no element is late. Over an
 * unbounded one the runner drops an element whose own window has expired, which a merge here could rescue into a live
 * session; there windows are kept apart (per key and window, as Beam's SDKs do).
 */
class Precombine implements Receiver {
  private readonly table = new Map<string, PartialCombine[]>();
  private readonly keyWriter = new ByteWriter();
  private readonly meta = new ElementMeta();
  private readonly merging: boolean;
  constructor(
    private readonly fn: CombineFn<unknown, unknown, unknown>,
    private readonly strategy: WindowingStrategy,
    private readonly keyCoder: Coder<unknown>,
    boundedInput: boolean,
    private readonly target: Receiver,
    /** The combine step's (this transform's): its CombineFn's `Metrics`, its processing time. */
    readonly metrics: MetricsContainer,
  ) {
    this.merging = boundedInput && strategy.windowFn.kind === "sessions";
  }
  /** Forgets a failed bundle's partial accumulators. */
  reset(): void {
    this.table.clear();
  }
  get size(): number {
    return this.table.size;
  }
  receive(value: unknown, meta: ElementMeta): void {
    const outer = enterMetricsContainer(this.metrics);
    try {
      this.add(value, meta);
    } finally {
      enterMetricsContainer(outer);
    }
  }
  private add(value: unknown, meta: ElementMeta): void {
    const [k, v] = value as readonly [unknown, unknown];
    const keyId = keyString(this.keyCoder, k, this.keyWriter);
    for (const w of meta.windows) {
      const id = this.merging ? keyId : `${keyId}\u0000${windowKey(w)}`;
      let list = this.table.get(id);
      if (list === undefined) {
        list = [];
        this.table.set(id, list);
      }
      if (!this.merging) {
        let e = list[0];
        if (e === undefined) {
          e = { key: k, window: w, acc: this.fn.createAccumulator(), ts: meta.timestamp };
          list.push(e);
        }
        e.acc = this.fn.addInput(e.acc, v);
        e.ts = this.combineTs(e.ts, meta.timestamp);
        continue;
      }
      this.addMerging(list, k, w as IntervalWindow, v, meta.timestamp);
    }
  }
  private combineTs(a: number, b: number): number {
    const c = this.strategy.timestampCombiner;
    return c === "earliest" ? Math.min(a, b) : c === "latest" ? Math.max(a, b) : a;
  }
  /** Adds a value in proto-session `w` to a key's sessions of this bundle, merging every one it overlaps. */
  private addMerging(list: PartialCombine[], key: unknown, w: IntervalWindow, v: unknown, ts: number): void {
    let window = w;
    let acc = this.fn.addInput(this.fn.createAccumulator(), v);
    let time = ts;
    for (let merged = true; merged; ) {
      merged = false;
      for (let i = 0; i < list.length; i++) {
        const e = list[i] as PartialCombine;
        const ew = e.window as IntervalWindow;
        if (!ew.intersects(window)) continue;
        window = ew.span(window);
        acc = this.fn.mergeAccumulators([e.acc, acc]);
        time = this.combineTs(e.ts, time);
        list.splice(i, 1);
        merged = true;
        break;
      }
    }
    list.push({ key, window, acc, ts: time });
  }
  flush(): void {
    const outer = enterMetricsContainer(this.metrics);
    try {
      for (const list of this.table.values()) {
        for (const e of list) {
          const ts = this.strategy.timestampCombiner === "endOfWindow" ? e.window.maxTimestamp : e.ts;
          this.target.receive([e.key, e.acc], this.meta.set(ts, [e.window], NO_FIRING));
        }
      }
      this.table.clear();
    } finally {
      enterMetricsContainer(outer);
    }
  }
}

/** A key's accumulator in one window, within a bundle. */
interface PartialCombine {
  readonly key: unknown;
  window: BoundedWindow;
  acc: unknown;
  ts: number;
}

/**
 * One part of a combine (`part`: merging a key's grouped accumulators, extracting its output, or both adding its
 * grouped values and extracting when the runner does not lift the combine), run in the transform's metrics container
 * (its CombineFn's `Metrics`, its processing time); its output goes on from there.
 */
class CombinePart implements Receiver {
  constructor(
    private readonly part: (fn: CombineFn<unknown, unknown, unknown>, value: unknown) => unknown,
    private readonly fn: CombineFn<unknown, unknown, unknown>,
    private readonly target: Receiver,
    readonly metrics: MetricsContainer,
  ) {}
  receive(value: unknown, meta: ElementMeta): void {
    const outer = enterMetricsContainer(this.metrics);
    try {
      const [k, v] = value as readonly [unknown, unknown];
      this.target.receive([k, this.part(this.fn, v)], meta);
    } finally {
      enterMetricsContainer(outer);
    }
  }
}

/** Merges a key's grouped accumulators (combine_per_key_merge_accumulators). */
function mergeAccumulators(fn: CombineFn<unknown, unknown, unknown>, accs: unknown): unknown {
  return fn.mergeAccumulators(accs as unknown[]);
}

/** Extracts a key's output from its accumulator (combine_per_key_extract_outputs). */
function extractOutput(fn: CombineFn<unknown, unknown, unknown>, acc: unknown): unknown {
  return fn.extractOutput(acc);
}

/** Combines a key's grouped values (the combine_per_key composite when the runner does not lift it). */
function combineValues(fn: CombineFn<unknown, unknown, unknown>, values: unknown): unknown {
  let acc = fn.createAccumulator();
  for (const v of values as readonly unknown[]) acc = fn.addInput(acc, v);
  return fn.extractOutput(acc);
}

/** A Tidemark step's name from a function spec's payload (`{ step }`). */
function stepOf(payload: Uint8Array): string {
  const step = (JSON.parse(new TextDecoder().decode(payload)) as { step?: unknown }).step;
  if (typeof step !== "string") throw new Error("a Tidemark function spec without a step name");
  return step;
}

/**
 * Runs the bundles of one `ProcessBundleDescriptor`: the descriptor's transforms become receivers (data inputs and
 * outputs on the runner's data channel; Tidemark's DoFns, found by step name in the pipeline module's graph, through
 * the same `DoFnRunner` as the direct runner; stateful DoFns with the runner's state; combines, WindowInto and
 * Flatten), built once and reused for every bundle. One bundle at a time.
 */
export class BundleProcessor {
  private readonly coders: CoderTable;
  private readonly byName = new Map<string, TransformNode>();
  private readonly consumers = new Map<string, string[]>();
  private readonly receivers = new Map<string, Receiver>();
  private readonly counted = new Map<string, Counted>();
  /** The PCollections that come in through a data input, and those a worker's step makes (`monitoringInfos`). */
  private readonly inbound: ReadonlySet<string>;
  private readonly workerMade: ReadonlySet<string>;
  /** Each runner-made PCollection's counting consumer (`countingConsumers`): a step name. */
  private readonly countedBy: ReadonlyMap<string, string>;
  /** The Tidemark step each transform of the descriptor runs (a ParDo's, a combine part's, a WindowInto's). */
  private readonly stepOfTransform = new Map<string, string>();
  private readonly sources: DataSource[] = [];
  private readonly sinks: DataSink[] = [];
  private readonly reads: ReadSource[] = [];
  private readonly precombines: Precombine[] = [];
  private readonly stateful = new Map<string, FnStatefulStep>();
  private readonly doFnRunners: DoFnRunner[] = [];
  /**
   * Each transform's metrics container (its user metrics, reported with each bundle then started again, and its
   * processing time), by its transform id: DoFns, stateful DoFns, WindowInto, a combine's parts. This processor's
   * own: another processor (another worker, another job) with a step of the same name has its own.
   */
  private readonly metricSteps: [string, MetricsContainer][] = [];
  /** Each transform's processing time reported so far, whole ms (by transform id). */
  private readonly reportedMs = new Map<string, number>();
  private readonly sideInputParDos: SideInputParDo[] = [];
  /** DoFnRunners with a bundle open, in the order they opened it. */
  private started: DoFnRunner[] = [];
  private asyncWork = new AsyncWork();
  private instructionId = "";
  private readonly dataChannels = new Set<DataChannel>();
  /** Per bundle answered with requires_finalization, the source marks to finalize when the runner says so. */
  private readonly finalizations = new Map<string, CheckpointMark[]>();
  /** Where the bundle's data and timers come from. */
  private input: DataChannel | undefined;
  private readonly clock = { now: () => Date.now() };

  constructor(
    readonly descriptor: ProcessBundleDescriptor,
    private readonly services: WorkerServices,
  ) {
    this.coders = new CoderTable(descriptor.coders);
    for (const t of services.graph.transforms.values()) this.byName.set(t.fullName, t);
    for (const [id, t] of Object.entries(descriptor.transforms)) {
      for (const pc of Object.values(t.inputs)) {
        const list = this.consumers.get(pc);
        if (list === undefined) this.consumers.set(pc, [id]);
        else list.push(id);
      }
    }
    for (const [id, t] of Object.entries(descriptor.transforms)) {
      if (t.spec?.urn === DATA_INPUT_URN) this.buildSource(id, t);
    }
    this.inbound = new Set(this.sources.map((s) => s.output));
    this.workerMade = workerMadePCollections(services.graph, services.choices ?? {});
    this.countedBy = countingConsumers(services.graph, services.choices ?? {});
    // Transforms no input reaches (a read's Impulse output comes through a data input, so none are expected).
    for (const id of Object.keys(descriptor.transforms)) this.receiverOfTransform(id);
    for (const r of this.doFnRunners) r.setup();
  }

  private node(step: string): TransformNode {
    const n = this.byName.get(step);
    if (n === undefined) {
      throw new Error(
        `the pipeline module has no step "${step}": the worker must build the same pipeline as the launcher`,
      );
    }
    return n;
  }

  private buildSource(id: string, t: PTransform): void {
    const port = fromBinary(RemoteGrpcPortSchema, t.spec?.payload ?? new Uint8Array());
    const out = Object.values(t.outputs)[0] as string;
    const target = this.receiverOfPCollection(out);
    const consumerIds = this.consumers.get(out) ?? [];
    const stateful = consumerIds.map((c) => this.stateful.get(c)).find((s) => s !== undefined);
    this.sources.push(
      new DataSource(id, out, this.coders.get(port.coderId) as Coder<WindowedValue<unknown>>, target, stateful),
    );
    this.inputChannel(port.apiServiceDescriptor?.url ?? "");
  }

  /**
   * The channel a bundle's inputs (data and timers) come on. One: a runner sends both on the same endpoint (Prism,
   * Dataflow); a descriptor naming two is refused, naming them.
   */
  private inputChannel(url: string): DataChannel {
    const c = this.channel(url);
    if (this.input !== undefined && this.input !== c) {
      throw new Error(
        `the bundle descriptor's inputs come on two endpoints (${this.input.url}, ${url}): not supported`,
      );
    }
    this.input = c;
    return c;
  }

  private channel(url: string): DataChannel {
    const c = this.services.data(url);
    this.dataChannels.add(c);
    return c;
  }

  private receiverOfPCollection(pc: string): Receiver {
    let c = this.counted.get(pc);
    if (c === undefined) {
      c = new Counted(receiverOf((this.consumers.get(pc) ?? []).map((id) => this.receiverOfTransform(id))));
      this.counted.set(pc, c);
    }
    return c;
  }

  private receiverOfTransform(id: string): Receiver {
    let r = this.receivers.get(id);
    if (r === undefined) {
      r = this.build(id, this.descriptor.transforms[id] as PTransform);
      this.receivers.set(id, r);
    }
    return r;
  }

  private outputOf(t: PTransform): Receiver {
    return receiverOf(Object.values(t.outputs).map((pc) => this.receiverOfPCollection(pc)));
  }

  private build(id: string, t: PTransform): Receiver {
    const urn = t.spec?.urn ?? "";
    const payload = t.spec?.payload ?? new Uint8Array();
    switch (urn) {
      case DATA_INPUT_URN:
        // Built first (buildSource); nothing sends to it within the bundle.
        return { receive() {} };
      case DATA_OUTPUT_URN: {
        const port = fromBinary(RemoteGrpcPortSchema, payload);
        const sink = new DataSink(
          id,
          this.coders.get(port.coderId) as Coder<WindowedValue<unknown>>,
          this.channel(port.apiServiceDescriptor?.url ?? ""),
        );
        this.sinks.push(sink);
        return sink;
      }
      case URNS.primitives.FLATTEN:
        return this.outputOf(t);
      case URNS.primitives.ASSIGN_WINDOWS: {
        const n = this.node(t.uniqueName);
        if (n.primitive?.kind !== "windowInto") throw new Error(`step "${t.uniqueName}" is not a WindowInto`);
        this.stepOfTransform.set(id, n.fullName);
        return new AssignWindows(n.primitive.strategy.windowFn, this.outputOf(t), this.containerOf(id, n.fullName));
      }
      case URNS.combineComponents.COMBINE_PER_KEY_PRECOMBINE: {
        const { step, fn, strategy, keyCoder, bounded } = this.combineOf(t, payload);
        this.stepOfTransform.set(id, step);
        const pre = new Precombine(fn, strategy, keyCoder, bounded, this.outputOf(t), this.containerOf(id, step));
        this.precombines.push(pre);
        return pre;
      }
      case URNS.combineComponents.COMBINE_PER_KEY_MERGE_ACCUMULATORS: {
        const { step, fn } = this.combineOf(t, payload);
        return new CombinePart(mergeAccumulators, fn, this.outputOf(t), this.containerOf(id, step));
      }
      case URNS.combineComponents.COMBINE_PER_KEY_EXTRACT_OUTPUTS: {
        const { step, fn } = this.combineOf(t, payload);
        return new CombinePart(extractOutput, fn, this.outputOf(t), this.containerOf(id, step));
      }
      case URNS.primitives.PAR_DO:
        return this.parDo(id, t, payload);
      default:
        throw new Error(`transform ${id} (${t.uniqueName}) has URN ${urn}, which the Tidemark worker does not run`);
    }
  }

  /**
   * A metrics container for transform `id`, a part of Tidemark step `step` (a WindowInto, a combine's parts): its
   * user metrics and processing time are reported with each bundle under the transform's id.
   */
  private containerOf(id: string, step: string): MetricsContainer {
    const m = new MetricsContainer(step);
    this.metricSteps.push([id, m]);
    return m;
  }

  private combineOf(t: PTransform, payload: Uint8Array) {
    const spec = fromBinary(CombinePayloadSchema, payload).combineFn;
    const n = this.node(stepOf(spec?.payload ?? new Uint8Array()));
    if (n.primitive?.kind !== "combinePerKey") throw new Error(`step "${n.fullName}" is not a combine`);
    const input = Object.values(t.inputs)[0] as string;
    const strategyId = this.descriptor.pcollections[input]?.windowingStrategyId ?? "";
    const ws = this.descriptor.windowingStrategies[strategyId];
    // The strategy's timestamp combiner, from the Tidemark graph (the combine's input).
    const strategy = this.services.graph.pcollections.get(n.inputs[0] as PCollectionId)?.windowing;
    if (strategy === undefined || ws === undefined) throw new Error(`no windowing strategy for ${t.uniqueName}`);
    const inputProto = this.descriptor.pcollections[input];
    const keyCoder = this.coders.get(this.descriptor.coders[inputProto?.coderId ?? ""]?.componentCoderIds[0] ?? "");
    return {
      step: n.fullName,
      fn: n.primitive.combineFn,
      strategy,
      keyCoder,
      bounded: inputProto?.isBounded === IsBounded_Enum.BOUNDED,
    };
  }

  private parDo(id: string, t: PTransform, payload: Uint8Array): Receiver {
    const pardo = fromBinary(ParDoPayloadSchema, payload);
    const fnUrn = pardo.doFn?.urn ?? "";
    const step = stepOf(pardo.doFn?.payload ?? new Uint8Array());
    const n = this.node(step);
    const p = n.primitive;
    this.stepOfTransform.set(id, step);
    if (fnUrn === TIDEMARK_URNS.readDoFn) {
      const read = new ReadSource(step, n, this.outputOf(t));
      this.reads.push(read);
      return read;
    }
    if (fnUrn === TIDEMARK_URNS.nativeDecodeDoFn) {
      const native = p?.kind === "read" ? p.source.native : undefined;
      if (native === undefined) throw new Error(`step "${step}" has no native connector to decode for`);
      return new NativeDecode(step, native.decode.bind(native), this.outputOf(t));
    }
    if (fnUrn === TIDEMARK_URNS.combineValuesDoFn) {
      if (p?.kind !== "combinePerKey") throw new Error(`step "${step}" is not a combine`);
      return new CombinePart(combineValues, p.combineFn, this.outputOf(t), this.containerOf(id, step));
    }
    if (fnUrn !== TIDEMARK_URNS.doFn) throw new Error(`transform ${id}: unknown DoFn URN ${fnUrn}`);
    const tagged = new Map<string, Receiver>();
    for (const [tag, pc] of Object.entries(t.outputs)) {
      if (tag !== "main") tagged.set(tag, this.receiverOfPCollection(pc));
    }
    const mainPc = t.outputs.main;
    const main = mainPc === undefined ? receiverOf([]) : this.receiverOfPCollection(mainPc);
    if (p?.kind === "statefulParDo") return this.statefulParDo(id, t, n, main, tagged);
    if (p?.kind !== "parDo") throw new Error(`step "${step}" is not a ParDo`);
    const views = p.sideInputs ?? [];
    const sides =
      views.length === 0
        ? undefined
        : new SideInputParDo(
            id,
            views.map((v) => this.sideInputSpec(t, v)),
            this.services.state(this.descriptor.stateApiServiceDescriptor?.url ?? ""),
          );
    const runner = new DoFnRunner(
      step,
      p.doFn as DoFn<unknown, unknown, Record<string, unknown>>,
      main,
      tagged,
      (r) => this.started.push(r),
      sides,
    );
    runner.clock = this.clock;
    this.doFnRunners.push(runner);
    this.metricSteps.push([id, runner.metrics]);
    if (sides === undefined) return runner;
    sides.runner = runner;
    this.sideInputParDos.push(sides);
    return sides;
  }

  /** How a ParDo's side input is read: its element and window coders, from the descriptor. */
  private sideInputSpec(t: PTransform, view: AnyView): SideInputSpec {
    const pc = t.inputs[view.id];
    const proto = pc === undefined ? undefined : this.descriptor.pcollections[pc];
    if (proto === undefined) throw new Error(`${t.uniqueName}: side input ${view.id} has no PCollection here`);
    const ws = this.descriptor.windowingStrategies[proto.windowingStrategyId];
    return {
      view,
      elementCoder: this.coders.get(proto.coderId),
      windowCoder: this.coders.get(ws?.windowCoderId ?? "") as Coder<BoundedWindow>,
      multimap: view.kind === "map" || view.kind === "multimap",
    };
  }

  /** Lets every ParDo waiting for side inputs read them and go on (each may feed another). */
  private async drainSideInputs(): Promise<void> {
    for (let again = true; again; ) {
      again = false;
      for (const s of this.sideInputParDos) {
        if (s.waiting === 0) continue;
        await s.drain();
        again = true;
      }
    }
  }

  private statefulParDo(
    id: string,
    t: PTransform,
    n: TransformNode,
    main: Receiver,
    tagged: ReadonlyMap<string, Receiver>,
  ): Receiver {
    const p = n.primitive;
    if (p?.kind !== "statefulParDo") throw new Error(`step "${n.fullName}" is not a stateful ParDo`);
    const input = t.inputs.main ?? (Object.values(t.inputs)[0] as string);
    const inputCoderId = this.descriptor.pcollections[input]?.coderId ?? "";
    const kvProto = this.descriptor.coders[inputCoderId];
    const keyCoder = this.coders.get(kvProto?.componentCoderIds[0] ?? "");
    const strategy = this.services.graph.pcollections.get(n.inputs[0] as PCollectionId)?.windowing as WindowingStrategy;
    const pardo = fromBinary(ParDoPayloadSchema, t.spec?.payload ?? new Uint8Array());
    const timerCoders = new Map<string, Coder<TimerValue<unknown>>>();
    for (const [family, spec] of Object.entries(pardo.timerFamilySpecs)) {
      timerCoders.set(family, this.coders.get(spec.timerFamilyCoderId) as Coder<TimerValue<unknown>>);
    }
    const wsProto = this.descriptor.windowingStrategies[this.descriptor.pcollections[input]?.windowingStrategyId ?? ""];
    const windowCoder = this.coders.get(wsProto?.windowCoderId ?? "") as Coder<BoundedWindow>;
    const url = this.descriptor.stateApiServiceDescriptor?.url ?? "";
    const timerUrl = this.descriptor.timerApiServiceDescriptor?.url ?? "";
    const timerChannel = timerCoders.size > 0 ? this.inputChannel(timerUrl) : undefined;
    const step: FnStatefulStep = new FnStatefulStep(
      n.fullName,
      id,
      p.doFn,
      strategy,
      keyCoder,
      windowCoder,
      timerCoders,
      this.services.state(url),
      { main, tagged },
      (family, bytes) => timerChannel?.sendTimers(this.instructionId, id, family, bytes),
    );
    this.stateful.set(id, step);
    this.metricSteps.push([id, step.metrics]);
    return step;
  }

  /** Processes bundle `instructionId`: its inputs and timers to the end, then finishes and answers. */
  async process(instructionId: string): Promise<BundleResponse> {
    this.instructionId = instructionId;
    this.asyncWork = new AsyncWork();
    for (const r of this.doFnRunners) r.asyncWork = this.asyncWork;
    for (const s of this.sinks) s.instructionId = instructionId;
    for (const s of this.stateful.values()) {
      s.instructionId = instructionId;
      s.asyncWork = this.asyncWork;
    }
    for (const c of this.counted.values()) c.count = 0;
    for (const s of this.sideInputParDos) {
      s.reset();
      s.instructionId = instructionId;
    }
    this.started = [];
    const expected = new Set<string>();
    for (const s of this.sources) expected.add(s.transformId);
    for (const [id, s] of this.stateful) for (const f of s.timerFamilies) expected.add(`${id}\u0000${f}`);
    const inbox = this.input?.inbox(instructionId);
    try {
      while (expected.size > 0 && inbox !== undefined) {
        const item = await inbox.next();
        if (item.kind === "data") {
          const source = this.sources.find((s) => s.transformId === item.transformId);
          if (source === undefined) throw new Error(`data for transform ${item.transformId}, which is no input here`);
          if (item.bytes.length > 0) await source.consume(item.bytes);
          await this.drainSideInputs();
          if (item.isLast) expected.delete(item.transformId);
        } else {
          const step = this.stateful.get(item.transformId);
          if (step === undefined) throw new Error(`timers for transform ${item.transformId}, which has none here`);
          if (item.bytes.length > 0) await this.fireTimers(step, item.family, item.bytes);
          if (item.isLast) expected.delete(`${item.transformId}\u0000${item.family}`);
        }
      }
      await Promise.all(this.reads.flatMap((r) => r.pending.splice(0)));
      await this.finishSteps();
      await this.asyncWork.idle();
      if (this.asyncWork.failure !== undefined) throw this.asyncWork.failure;
      await Promise.all([...this.stateful.values()].map((s) => s.finishBundle()));
      for (const s of this.sinks) s.flush(true);
      for (const [id, s] of this.stateful) {
        for (const f of s.timerFamilies) this.input?.sendTimers(instructionId, id, f, new Uint8Array(), true);
      }
      const marks = this.reads.flatMap((r) => r.marks.splice(0));
      if (marks.length > 0) this.finalizations.set(instructionId, marks);
      const user = this.metricSteps.flatMap(([id, m]) => userMonitoringInfos(id, m.takeValues()));
      const infos = [...this.monitoringInfos(), ...user, ...this.processingInfos()];
      return {
        monitoringInfos: infos,
        monitoringData: this.services.shortIds.data(infos),
        requiresFinalization: marks.length > 0,
      };
    } catch (e) {
      // A failed bundle's metrics stay: the next bundle reports them (attempted work: a write error, the rows a write
      // committed before the failure), as Beam counts attempted metrics.
      // A failed bundle leaves nothing behind for the next one (a runner may retry it, or send others).
      for (const s of this.stateful.values()) s.reset();
      for (const r of this.reads) r.reset();
      for (const pre of this.precombines) pre.reset();
      for (const s of this.sinks) s.reset();
      for (const s of this.sideInputParDos) s.reset();
      for (const r of this.started) r.abandonBundle();
      await this.asyncWork.idle();
      throw e;
    } finally {
      this.input?.release(instructionId);
    }
  }

  /**
   * Ends the bundle's steps: elements waiting for side inputs go on, DoFns that started a bundle finish it, lifted
   * combines emit their accumulators; until none of them has anything more (a DoFn's finishBundle may output to a
   * combine, or to a ParDo waiting for a side input, and a combine's output may start another DoFn's bundle).
   */
  private async finishSteps(): Promise<void> {
    let finished = 0;
    for (;;) {
      await this.drainSideInputs();
      if (finished < this.started.length) {
        (this.started[finished++] as DoFnRunner).finishBundle();
        continue;
      }
      const pending = this.precombines.filter((pre) => pre.size > 0);
      if (pending.length === 0 && this.sideInputParDos.every((s) => s.waiting === 0)) return;
      for (const pre of pending) pre.flush();
    }
  }

  private async fireTimers(step: FnStatefulStep, family: string, bytes: Uint8Array): Promise<void> {
    const coder = this.coders.get(
      fromBinary(
        ParDoPayloadSchema,
        (this.descriptor.transforms[step.transformId] as PTransform).spec?.payload ?? new Uint8Array(),
      ).timerFamilySpecs[family]?.timerFamilyCoderId ?? "",
    ) as Coder<TimerValue<unknown>>;
    const r = new ByteReader(bytes);
    const timers: TimerValue<unknown>[] = [];
    while (r.remaining > 0) timers.push(coder.decode(r));
    await step.prefetch(timers.map((t) => ({ key: t.userKey, windows: t.windows })));
    for (const t of timers) step.fire(family, t);
  }

  /**
   * Beam's bundle finalization: the runner has durably committed bundle `instructionId`, so the sources' marks of
   * what it read are finalized (a message queue acknowledges the messages then). False when the bundle had none.
   */
  async finalize(instructionId: string): Promise<boolean> {
    const marks = this.finalizations.get(instructionId);
    if (marks === undefined) return false;
    this.finalizations.delete(instructionId);
    await Promise.all(marks.map((m) => m.finalize()));
    return true;
  }

  /** Set once the sampler has failed (said once). */
  private samplerFailed = false;

  /**
   * Each transform's processing time since the last report (Beam's `process_bundle_msecs`, whole ms; the sampler's
   * fraction waits for the next), when the worker samples it: its own container's (one slot each, read alone). A
   * failed bundle's time goes with the next, as its user metrics do. Bundles of one descriptor run one at a time, so
   * what the containers gathered since the last report is this bundle's. A sampler that has failed is said once on
   * the worker's stderr (which the runner keeps as the worker's log) and its figures are left out: a monitoring fault
   * must not fail every bundle, and so the job, after it.
   */
  private processingInfos(): MonitoringInfoShape[] {
    let times: StepTimes | undefined;
    try {
      times = this.services.stepTimes?.();
    } catch (e) {
      if (!this.samplerFailed) {
        this.samplerFailed = true;
        process.stderr.write(`tidemark worker: processing time no longer reported: ${(e as Error).message}\n`);
      }
      return [];
    }
    if (times === undefined) return [];
    const out: MonitoringInfoShape[] = [];
    for (const [id, m] of this.metricSteps) {
      const seconds = times.secondsOf(m);
      if (seconds === undefined) continue;
      const ms = Math.floor(seconds * 1000);
      const before = this.reportedMs.get(id) ?? 0;
      this.reportedMs.set(id, ms);
      out.push(processBundleMsecsInfo(id, ms - before));
    }
    return out;
  }

  /**
   * Whether this descriptor's bundles count PCollection `pc`, so that the runner's sums count each element once:
   * - one a worker's step makes (`workerMadePCollections`): where it is made, not where it comes in through a data
   *   input (Beam's Go and Python SDKs count it on both sides of such a fusion break, and Prism's sums then give it
   *   twice: measured on the medallion, the inputs of its stateful steps);
   * - one the runner makes (a grouping's, a Flatten's, a TestStream's output): only where its counting consumer
   *   (`countingConsumers`) reads it; the runner sends it to every stage that reads it;
   * - any other (the runner's own intermediates, not in the Tidemark graph): here.
   */
  private isCountedHere(pc: string): boolean {
    if (this.workerMade.has(pc)) return !this.inbound.has(pc);
    const step = this.countedBy.get(pc);
    if (step === undefined) return !this.services.graph.pcollections.has(pc as PCollectionId);
    return (this.consumers.get(pc) ?? []).some((id) => this.stepOfTransform.get(id) === step);
  }

  /** Element counts per PCollection of this bundle (Beam's `beam:metric:element_count:v1`), as `isCountedHere` says. */
  monitoringInfos() {
    const out = [];
    for (const [pc, c] of this.counted) {
      if (this.descriptor.pcollections[pc] === undefined) continue;
      if (!this.isCountedHere(pc)) continue;
      const w = new ByteWriter();
      w.varint(c.count);
      out.push({ urn: ELEMENT_COUNT_URN, type: SUM_INT64_TYPE, labels: { PCOLLECTION: pc }, payload: w.finish() });
    }
    return out;
  }

  /** Tears the DoFns down and gives back the containers' processing-time slots. */
  teardown(): void {
    try {
      for (const r of this.doFnRunners) r.teardown();
    } finally {
      for (const [, m] of this.metricSteps) m.release();
    }
  }
}
