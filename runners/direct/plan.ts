import { enterMetricsContainer, MetricsContainer } from "../../core/metrics.ts";
import type { PipelineGraph } from "../../core/pipeline.ts";
import type { PCollectionId, TransformNode } from "../../core/primitives.ts";
import type { Source, SourceReader } from "../../core/source.ts";
import type { AnyView } from "../../core/view.ts";
import { assertNever } from "../../core/util/assert-never.ts";
import { assignWindows, type WindowFn } from "../../core/windows/window-fn.ts";
import type { BoundedWindow, IntervalWindow } from "../../core/windows/window.ts";
import { DoFnRunner } from "../fn/do-fn-runner.ts";
import { ElementMeta, type Receiver, receiverOf } from "../fn/receiver.ts";
import { GroupStage } from "./group-stage.ts";
import type { KeyedStage } from "./keyed-stage.ts";
import { SideInputStage } from "./side-input-stage.ts";
import { StableInputBuffer } from "./stable-input.ts";
import { StatefulStage, TagRouter } from "./stateful-stage.ts";
import { ViewStore } from "../fn/view-store.ts";

/** Where watermarks come from: a source or a grouping step. */
export type Producer = SourceNode | KeyedStage;

/** A source in the plan: its reader, its own watermark, and the fused steps its bundles go to. */
export class SourceNode {
  reader: SourceReader<unknown> | undefined;
  /** The metadata of the element being sent, rewritten per element. */
  readonly meta = new ElementMeta();
  watermark = Number.NEGATIVE_INFINITY;
  done = false;
  elementsOut = 0;
  constructor(
    readonly stepName: string,
    readonly source: Source<unknown>,
    readonly downstream: Receiver,
  ) {}
}

/**
 * Assigns windows (the WindowInto primitive). Windows are immutable values, so for fixed windows the last assigned
 * window list is reused while elements keep falling into it (streams are roughly in time order). Runs in its step's
 * metrics container (its processing time; the steps it outputs to enter their own).
 */
export class WindowIntoNode implements Receiver {
  elements = 0;
  readonly metrics: MetricsContainer;
  private lastStart = Number.NaN;
  private lastEnd = Number.NaN;
  private last: readonly BoundedWindow[] = [];
  private readonly out = new ElementMeta();
  constructor(
    stepName: string,
    private readonly fn: WindowFn,
    private readonly next: Receiver,
  ) {
    this.metrics = new MetricsContainer(stepName);
  }
  receive(value: unknown, meta: ElementMeta): void {
    const outer = enterMetricsContainer(this.metrics);
    try {
      this.elements++;
      const timestamp = meta.timestamp;
      const out = this.out;
      out.timestamp = timestamp;
      out.pane = meta.pane;
      if (this.fn.kind === "fixed") {
        if (!(timestamp >= this.lastStart && timestamp < this.lastEnd)) {
          this.last = assignWindows(this.fn, timestamp, meta.windows);
          const w = this.last[0] as IntervalWindow;
          this.lastStart = w.start;
          this.lastEnd = w.end;
        }
        out.windows = this.last;
      } else {
        out.windows = assignWindows(this.fn, timestamp, meta.windows);
      }
      this.next.receive(value, out);
    } finally {
      enterMetricsContainer(outer);
    }
  }
}

/**
 * Session assignment fused into the grouping that directly follows it: the grouping computes each element's
 * proto-session `[t, t + gap)` itself, so no window object is made per element (and the time it takes is the
 * grouping's: this step has no metrics container).
 */
export class FusedSessionAssign implements Receiver {
  elements = 0;
  constructor(
    private readonly group: GroupStage,
    private readonly gapMs: number,
  ) {}
  receive(value: unknown, meta: ElementMeta): void {
    this.elements++;
    this.group.receiveInSession(value, meta, this.gapMs);
  }
}

/** Passes elements on (the Flatten primitive), counting them, in its step's metrics container. */
export class FlattenNode implements Receiver {
  elements = 0;
  readonly metrics: MetricsContainer;
  constructor(
    stepName: string,
    private readonly out: Receiver,
  ) {
    this.metrics = new MetricsContainer(stepName);
  }
  receive(value: unknown, meta: ElementMeta): void {
    const outer = enterMetricsContainer(this.metrics);
    try {
      this.elements++;
      this.out.receive(value, meta);
    } finally {
      enterMetricsContainer(outer);
    }
  }
}

export interface PlanStep {
  readonly name: string;
  readonly kind: TransformNode["primitive"] extends infer P ? (P extends { kind: infer K } ? K : never) : never;
  readonly node: SourceNode | KeyedStage | DoFnRunner | WindowIntoNode | FusedSessionAssign | FlattenNode | ViewStore;
  /** The producers whose watermarks bound this step's input watermark. */
  readonly upstream: readonly Producer[];
}

/**
 * The executable form of a pipeline: fused chains of element-wise steps between sources and groupings. Elements
 * move through a chain by direct calls (a `Receiver` per step); groupings end chains and queue their panes.
 */
export class Plan {
  readonly sources: SourceNode[] = [];
  /** The keyed stages (groupings and stateful DoFns), in topological order. */
  readonly groups: KeyedStage[] = [];
  readonly doFns: DoFnRunner[] = [];
  readonly steps: PlanStep[] = [];
  /** Each grouping's downstream receiver. */
  readonly groupOutputs = new Map<KeyedStage, Receiver>();
  readonly groupUpstream = new Map<KeyedStage, readonly Producer[]>();
  /** Side inputs' materialized contents, by view id, and the producers feeding each. */
  readonly stores = new Map<string, ViewStore>();
  private readonly viewUpstream = new Map<string, readonly Producer[]>();
  /**
   * DoFns whose outputs reach no grouping, stateful step or side input (sinks): nothing waits on their bundles, so
   * the runner may keep a bundle open across source events (a sink batches within it) without holding a watermark.
   */
  readonly terminal = new Set<DoFnRunner>();
  /** The held input of each DoFn that requires stable input (only when the run checkpoints). */
  readonly stableInputs: StableInputBuffer[] = [];

  constructor(
    graph: PipelineGraph,
    onDoFnBundle: (r: DoFnRunner) => void,
    onGroupBundle: (g: KeyedStage) => void,
    options: { readonly holdStableInput?: boolean } = {},
  ) {
    const consumers = new Map<PCollectionId, Receiver[]>();
    const producerOf = new Map<PCollectionId, TransformNode>();
    for (const t of graph.primitives) for (const pc of Object.values(t.outputs)) producerOf.set(pc, t);
    const feedsKeyed = feedsKeyedSteps(graph);
    const receiverFor = (pc: PCollectionId | undefined): Receiver =>
      pc === undefined ? receiverOf([]) : receiverOf(consumers.get(pc) ?? []);
    const addConsumer = (pc: PCollectionId, r: Receiver) => {
      const list = consumers.get(pc);
      if (list) list.push(r);
      else consumers.set(pc, [r]);
    };
    const nodes = new Map<TransformNode, PlanStep["node"]>();
    const stores = this.stores;
    const storeFor = (v: AnyView): ViewStore => {
      let st = stores.get(v.id);
      if (st === undefined) {
        st = new ViewStore(v);
        stores.set(v.id, st);
      }
      return st;
    };
    const viewNodes = new Map<string, TransformNode>();
    // Wire consumers before producers: walk the primitives backwards (they were applied in topological order).
    for (let i = graph.primitives.length - 1; i >= 0; i--) {
      const t = graph.primitives[i] as TransformNode;
      const p = t.primitive;
      if (!p) continue;
      const main = receiverFor(t.outputs.main);
      switch (p.kind) {
        case "read": {
          const s = new SourceNode(t.fullName, p.source, main);
          this.sources.unshift(s);
          nodes.set(t, s);
          break;
        }
        case "parDo": {
          const tagged = new Map<string, Receiver>();
          for (const tag of p.tags) tagged.set(tag, receiverFor(t.outputs[tag]));
          if (p.sideInputs && p.sideInputs.length > 0) {
            const stores = new Map<string, ViewStore>();
            for (const v of p.sideInputs) stores.set(v.id, storeFor(v));
            const stage = new SideInputStage(t.fullName, stores, (v) => this.viewWatermark(v));
            const r = new DoFnRunner(t.fullName, p.doFn, main, tagged, onDoFnBundle, stage);
            stage.runner = r;
            this.doFns.unshift(r);
            this.groups.unshift(stage);
            this.groupOutputs.set(stage, main);
            nodes.set(t, stage);
            for (const pc of t.inputs) addConsumer(pc, stage);
            break;
          }
          const r = new DoFnRunner(t.fullName, p.doFn, main, tagged, onDoFnBundle);
          this.doFns.unshift(r);
          nodes.set(t, r);
          if (!feedsKeyed.has(t)) this.terminal.add(r);
          let input: Receiver = r;
          if (p.doFn.requiresStableInput === true && options.holdStableInput === true) {
            if (feedsKeyed.has(t)) {
              throw new Error(
                `step "${t.fullName}" requires stable input and its outputs feed a grouping or a side input: the ` +
                  "direct runner holds such a step's input until a checkpoint, and cannot hold the downstream " +
                  "watermark for it yet; make the step a sink (no consumers), or run without requiresStableInput",
              );
            }
            const buffer = new StableInputBuffer(t.fullName, r);
            this.stableInputs.unshift(buffer);
            input = buffer;
          }
          for (const pc of t.inputs) addConsumer(pc, input);
          break;
        }
        case "createView": {
          const store = storeFor(p.view);
          nodes.set(t, store);
          viewNodes.set(p.view.id, t);
          for (const pc of t.inputs) addConsumer(pc, store);
          break;
        }
        case "windowInto": {
          const targets = t.outputs.main === undefined ? [] : (consumers.get(t.outputs.main) ?? []);
          const fn = p.strategy.windowFn;
          const only = targets.length === 1 ? targets[0] : undefined;
          const r = p.keepWindows
            ? new FlattenNode(t.fullName, main) // windows stay as they are: a pass-through that counts
            : fn.kind === "sessions" && only instanceof GroupStage
              ? new FusedSessionAssign(only, fn.gapMs)
              : new WindowIntoNode(t.fullName, fn, main);
          nodes.set(t, r);
          for (const pc of t.inputs) addConsumer(pc, r);
          break;
        }
        case "flatten": {
          const r = new FlattenNode(t.fullName, main);
          nodes.set(t, r);
          for (const pc of t.inputs) addConsumer(pc, r);
          break;
        }
        case "statefulParDo": {
          const input = t.inputs[0];
          if (input === undefined) throw new Error(`${t.fullName}: stateful ParDo without input`);
          const strategy = graph.pcollections.get(input)?.windowing;
          if (!strategy) throw new Error(`${t.fullName}: unknown input PCollection ${input}`);
          const st = new StatefulStage(t.fullName, strategy, p.doFn, onGroupBundle, p.tags);
          this.groups.unshift(st);
          if (p.tags.length > 0) {
            const targets = new Map<string, Receiver>([["main", main]]);
            for (const tag of p.tags) targets.set(tag, receiverFor(t.outputs[tag]));
            this.groupOutputs.set(st, new TagRouter(targets));
          } else {
            this.groupOutputs.set(st, main);
          }
          nodes.set(t, st);
          addConsumer(input, st);
          break;
        }
        case "groupByKey":
        case "combinePerKey": {
          const input = t.inputs[0];
          if (input === undefined) throw new Error(`${t.fullName}: grouping without input`);
          const strategy = graph.pcollections.get(input)?.windowing;
          if (!strategy) throw new Error(`${t.fullName}: unknown input PCollection ${input}`);
          const g = new GroupStage(
            t.fullName,
            strategy,
            p.kind === "combinePerKey" ? p.combineFn : undefined,
            onGroupBundle,
          );
          this.groups.unshift(g);
          this.groupOutputs.set(g, main);
          nodes.set(t, g);
          addConsumer(input, g);
          break;
        }
        default:
          assertNever(p);
      }
    }
    // Upstream producers of every step, following element-wise steps back to sources and groupings.
    const memo = new Map<TransformNode, readonly Producer[]>();
    const producersOf = (t: TransformNode): readonly Producer[] => {
      const known = memo.get(t);
      if (known) return known;
      const out = new Set<Producer>();
      for (const pc of t.inputs) {
        const up = producerOf.get(pc);
        if (!up) continue;
        const n = nodes.get(up);
        if (
          n instanceof SourceNode ||
          n instanceof GroupStage ||
          n instanceof StatefulStage ||
          n instanceof SideInputStage
        )
          out.add(n);
        else for (const p of producersOf(up)) out.add(p);
      }
      const list = [...out];
      memo.set(t, list);
      return list;
    };
    for (const t of graph.primitives) {
      const node = nodes.get(t);
      if (!node || !t.primitive) continue;
      const upstream = node instanceof SourceNode ? [] : producersOf(t);
      if (node instanceof GroupStage || node instanceof StatefulStage || node instanceof SideInputStage) {
        this.groupUpstream.set(node, upstream);
      }
      this.steps.push({ name: t.fullName, kind: t.primitive.kind, node, upstream });
    }
    for (const [id, t] of viewNodes) this.viewUpstream.set(id, producersOf(t));
  }

  /**
   * The metrics containers of the plan's steps, in plan order: one per step whose code the runner runs in one (ParDo,
   * stateful DoFn, grouping, WindowInto, Flatten). Their user metrics and processing time are this job's; the runner
   * releases them when the run ends.
   */
  metricsContainers(): MetricsContainer[] {
    const out: MetricsContainer[] = [];
    for (const st of this.steps) {
      const n = st.node;
      if (n instanceof SideInputStage) {
        if (n.runner !== undefined) out.push(n.runner.metrics);
      } else if (
        n instanceof DoFnRunner ||
        n instanceof StatefulStage ||
        n instanceof GroupStage ||
        n instanceof WindowIntoNode ||
        n instanceof FlattenNode
      ) {
        out.push(n.metrics);
      }
    }
    return out;
  }

  /** A side input's watermark: the minimum over the producers feeding it (their output and pending bundles). */
  viewWatermark(view: AnyView): number {
    const producers = this.viewUpstream.get(view.id) ?? [];
    let w = Number.POSITIVE_INFINITY;
    for (const p of producers) w = Math.min(w, producerWatermark(p));
    return w;
  }
}

/**
 * The transforms from which elements reach a grouping, a stateful step, a side-input ParDo or a view (directly or
 * through element-wise steps). The others are sinks: what they output, nothing downstream waits for.
 */
function feedsKeyedSteps(graph: PipelineGraph): Set<TransformNode> {
  const consumersOf = new Map<PCollectionId, TransformNode[]>();
  for (const t of graph.primitives) {
    for (const pc of t.inputs) {
      const list = consumersOf.get(pc);
      if (list) list.push(t);
      else consumersOf.set(pc, [t]);
    }
  }
  const isKeyed = (t: TransformNode): boolean => {
    const p = t.primitive;
    if (p === undefined) return false;
    switch (p.kind) {
      case "groupByKey":
      case "combinePerKey":
      case "statefulParDo":
      case "createView":
        return true;
      case "parDo":
        return (p.sideInputs?.length ?? 0) > 0;
      default:
        return false;
    }
  };
  const feeds = new Set<TransformNode>();
  // Consumers come after their producers: walking backwards, every consumer is decided before its producer.
  for (let i = graph.primitives.length - 1; i >= 0; i--) {
    const t = graph.primitives[i] as TransformNode;
    for (const pc of Object.values(t.outputs)) {
      for (const c of consumersOf.get(pc) ?? []) {
        if (isKeyed(c) || feeds.has(c)) feeds.add(t);
      }
    }
  }
  return feeds;
}

/** A producer's output watermark, held back by what it has produced but not yet delivered. */
export function producerWatermark(p: Producer): number {
  if (p instanceof SourceNode) return p.watermark;
  return Math.min(p.outputWatermark, p.queue.minPending);
}
