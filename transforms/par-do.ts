import type { DoFn, OutputTags } from "../core/do-fn.ts";
import { PipelineBuildError } from "../core/errors.ts";
import type { PCollection } from "../core/pcollection.ts";
import type { PTransform } from "../core/ptransform.ts";
import type { AnyView, PCollectionView } from "../core/view.ts";

/** The outputs of a multi-output ParDo: the main output plus one PCollection per tag. */
export type ParDoOutputs<O, Tags extends object> = { readonly main: PCollection<O> } & {
  readonly [K in keyof Tags]: PCollection<Tags[K]>;
};

/** A ParDo: a DoFn applied to each element. `withOutputs` exposes its tagged outputs too. */
export interface ParDo<I, O, Tags extends object> extends PTransform<PCollection<I>, PCollection<O>> {
  /**
   * The same ParDo, returning the main output and the named tagged outputs, e.g. `.withOutputs("deadLetter")` gives
   * `{ main, deadLetter }`, each typed from the DoFn's tags. Only the named tags are outputs.
   */
  withOutputs<const Ks extends keyof Tags & string>(
    ...tags: Ks[]
  ): PTransform<PCollection<I>, ParDoOutputs<O, Pick<Tags, Ks>>>;
  /** The same ParDo, reading these side inputs (`ctx.sideInput(view)`); it waits for them to be ready per window. */
  withSideInputs(...views: PCollectionView<unknown>[]): ParDo<I, O, Tags>;
}

const RESERVED_TAGS = new Set(["main"]);

function expandParDo<I, O>(
  input: PCollection<I>,
  fn: DoFn<I, O, Record<string, unknown>>,
  tags: readonly string[],
  sideInputs: readonly AnyView[],
): Record<string, PCollection<unknown>> {
  const p = input.pipeline;
  for (const t of tags) {
    if (RESERVED_TAGS.has(t)) throw new PipelineBuildError(p.currentName(), `output tag "${t}" is reserved`);
  }
  if (new Set(tags).size !== tags.length) {
    throw new PipelineBuildError(p.currentName(), `output tags must be distinct, got ${tags.join(", ")}`);
  }
  for (const v of sideInputs) {
    if (input.windowing.windowFn.kind === "global" && v.windowing.windowFn.kind !== "global") {
      throw new PipelineBuildError(
        p.currentName(),
        `a main input in the global window cannot read side input ${v.id}, which is windowed by ${v.windowing.windowFn.kind} windows; window the main input too, or the side input globally`,
      );
    }
  }
  if (typeof fn.process !== "function") {
    throw new PipelineBuildError(p.currentName(), "the DoFn has no process(element, ctx) method");
  }
  const outputs: Record<string, { windowing: typeof input.windowing; bounded: boolean }> = {
    main: { windowing: input.windowing, bounded: input.bounded },
  };
  for (const t of tags) outputs[t] = { windowing: input.windowing, bounded: input.bounded };
  return p.applyPrimitive(
    {
      kind: "parDo",
      doFn: fn as DoFn<unknown, unknown, Record<string, unknown>>,
      mainTag: "main",
      tags,
      ...(sideInputs.length > 0 ? { sideInputs } : {}),
    },
    [input as PCollection<unknown>],
    outputs,
  );
}

/**
 * Applies a DoFn to every element. The DoFn's context gives the element's timestamp, window and pane, and lets it
 * output to the main output or to tagged outputs.
 */
export function parDo<I, O, Tags extends object = OutputTags>(
  fn: DoFn<I, O, Tags>,
  name = "ParDo",
  sideInputs: readonly AnyView[] = [],
): ParDo<I, O, Tags> {
  const single: PTransform<PCollection<I>, PCollection<O>> = {
    name,
    expand: (input) =>
      expandParDo(input, fn as DoFn<I, O, Record<string, unknown>>, [], sideInputs).main as PCollection<O>,
  };
  return {
    ...single,
    withOutputs<const Ks extends keyof Tags & string>(...tags: Ks[]) {
      return {
        name,
        expand: (input: PCollection<I>) =>
          expandParDo(input, fn as DoFn<I, O, Record<string, unknown>>, tags, sideInputs) as unknown as ParDoOutputs<
            O,
            Pick<Tags, Ks>
          >,
      };
    },
    withSideInputs(...views: PCollectionView<unknown>[]) {
      return parDo(fn, name, [...sideInputs, ...views]);
    },
  };
}
