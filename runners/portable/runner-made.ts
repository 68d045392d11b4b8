import type { PipelineGraph } from "../../core/pipeline.ts";
import type { PCollectionId, TransformNode } from "../../core/primitives.ts";
import { assertNever } from "../../core/util/assert-never.ts";

/**
 * What, beside the graph, decides which transforms the runner runs itself (a part of `TranslateOptions`): the
 * translation and the worker must agree on it, so the launcher tells its workers (`TRANSLATION_OPTION`).
 */
export interface TranslationChoices {
  /** The read steps translated as Beam's TestStream, which the runner replays itself. */
  readonly testStreams?: { has(step: string): boolean };
  /** DoFns carrying a native sink are the runner's own write (`beam:transform:pubsub_write:v1`). */
  readonly nativeWrites?: boolean;
}

/**
 * Whether the runner itself makes `t`'s outputs: the one predicate by which `translate` chooses what it emits and
 * the worker knows where each PCollection is made (`workerMadePCollections`, `countingConsumers`):
 * - a GroupByKey, a Flatten, and a WindowInto that keeps the elements' windows (Beam's Window.remerge, translated as
 *   an identity Flatten with no environment, which Prism runs itself);
 * - a read translated as TestStream (`choices.testStreams`; other reads run in the worker, a native read's output is
 *   made by the worker's decoding step);
 * - a DoFn written by the runner's native connector (`choices.nativeWrites`; it has no output).
 * Everything else runs in the SDK environment: ParDos, stateful DoFns, WindowInto that assigns windows, combines (the
 * runner may lift a combine, but its output is made by the worker's extracting part either way).
 */
export function isRunnerMade(t: TransformNode, choices: TranslationChoices): boolean {
  const p = t.primitive;
  if (p === undefined) return false;
  switch (p.kind) {
    case "groupByKey":
    case "flatten":
      return true;
    case "windowInto":
      return p.keepWindows === true;
    case "read":
      return choices.testStreams?.has(t.fullName) === true;
    case "parDo":
      return choices.nativeWrites === true && p.doFn.native !== undefined;
    case "statefulParDo":
    case "combinePerKey":
    case "createView":
      return false;
    default:
      return assertNever(p);
  }
}

/**
 * The PCollections a worker makes: the outputs of every primitive the runner does not make (`isRunnerMade`). A worker
 * counts an element once, where it is made (`beam:metric:element_count:v1`): a PCollection of this set that reaches it
 * through the runner's data port was counted by the worker that made it.
 */
export function workerMadePCollections(graph: PipelineGraph, choices: TranslationChoices): Set<PCollectionId> {
  const out = new Set<PCollectionId>();
  for (const t of graph.primitives) {
    if (!isRunnerMade(t, choices)) for (const pc of Object.values(t.outputs)) out.add(pc);
  }
  return out;
}

/**
 * How surely a consumer reads `pc` in the worker, as its main input through a data port: 0 surely (a ParDo, a
 * stateful DoFn, a WindowInto that assigns windows), 1 when the runner lifts the combine (its precombining part reads
 * it in the worker; unlifted, the runner's GroupByKey does), undefined when the runner reads it (a grouping, a Flatten,
 * a native sink) or it is a side input (read through the state channel).
 */
function workerReadRank(t: TransformNode, pc: PCollectionId, choices: TranslationChoices): 0 | 1 | undefined {
  const p = t.primitive;
  if (p === undefined || t.inputs[0] !== pc || isRunnerMade(t, choices)) return undefined;
  switch (p.kind) {
    case "parDo":
    case "statefulParDo":
    case "windowInto":
      return 0;
    case "combinePerKey":
      return 1;
    case "read":
    case "createView":
    case "groupByKey":
    case "flatten":
      return undefined;
    default:
      return assertNever(p);
  }
}

/**
 * For each PCollection the runner makes, the step whose bundles count its elements (its counting consumer): the first
 * consumer in graph order that surely reads it in a worker, else the first combine reading it. A runner sends a
 * PCollection it made to every stage that reads it (Prism puts each TestStream consumer, and each consumer of a
 * runner's Flatten, in a stage of its own), so counting it wherever it arrives would count it once per stage; the
 * stage holding this one step counts it once, whatever the runner fuses. A PCollection that only the runner reads (a
 * grouping or Flatten of a TestStream's output, a grouping's output flattened) has none: no worker sees it.
 */
export function countingConsumers(graph: PipelineGraph, choices: TranslationChoices): Map<PCollectionId, string> {
  const made = new Set<PCollectionId>();
  for (const t of graph.primitives) {
    if (isRunnerMade(t, choices)) for (const pc of Object.values(t.outputs)) made.add(pc);
  }
  const best = new Map<PCollectionId, { readonly step: string; readonly rank: 0 | 1 }>();
  for (const t of graph.primitives) {
    for (const pc of t.inputs) {
      if (!made.has(pc)) continue;
      const rank = workerReadRank(t, pc, choices);
      const seen = best.get(pc);
      if (rank !== undefined && (seen === undefined || rank < seen.rank)) best.set(pc, { step: t.fullName, rank });
    }
  }
  return new Map([...best].map(([pc, c]) => [pc, c.step]));
}
