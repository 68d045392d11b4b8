import type { TranslationChoices } from "../runner-made.ts";

/** The pipeline option naming the module that builds the job's pipeline in a worker process (`boot.ts`). */
export const PIPELINE_MODULE_OPTION = "tidemark_pipeline";

/**
 * The pipeline option asking a worker process for per-step processing time (`true`): it runs a sampler
 * (`runners/observe/step-time.ts`) and its bundles report Beam's `process_bundle_msecs`.
 */
export const PROCESSING_TIME_OPTION = "tidemark_processing_time";

/**
 * The pipeline option telling a worker process what the translation left to the runner (`TranslationChoices`: the
 * read steps replayed as TestStream, native writes), so that it counts each PCollection where the launcher's
 * translation makes it (`runners/portable/runner-made.ts`). Absent: none (every read runs in the worker).
 */
export const TRANSLATION_OPTION = "tidemark_translation";

/** What the `tidemark_translation` option holds. */
export interface TranslationSpec {
  readonly testStreams: readonly string[];
  readonly nativeWrites?: boolean;
}

/** The option's value for `choices` (as JSON the runner hands on). */
export function translationSpec(choices: { readonly testStreams?: Iterable<string>; readonly nativeWrites?: boolean }) {
  return {
    testStreams: [...(choices.testStreams ?? [])],
    ...(choices.nativeWrites === true ? { nativeWrites: true } : {}),
  } satisfies TranslationSpec;
}

/** The choices a worker reads from the option's value (`undefined`: none); a malformed value is refused, named. */
export function translationChoicesOf(value: unknown): TranslationChoices {
  if (value === undefined) return {};
  const spec = value as Partial<TranslationSpec> | null;
  if (
    spec === null ||
    typeof spec !== "object" ||
    !Array.isArray(spec.testStreams) ||
    !spec.testStreams.every((s) => typeof s === "string")
  ) {
    throw new Error(
      `the pipeline option ${TRANSLATION_OPTION} is not { testStreams: string[] }: ${JSON.stringify(value)}`,
    );
  }
  return { testStreams: new Set(spec.testStreams), ...(spec.nativeWrites === true ? { nativeWrites: true } : {}) };
}

/** What the `tidemark_pipeline` option holds. */
export interface PipelineModuleSpec {
  /** Path of the module (absolute, or relative to the worker's working directory). */
  readonly module: string;
  /** Its export that builds the pipeline from `args`: `(args: string[]) => Pipeline | Promise<Pipeline>`. */
  readonly export: string;
  readonly args: readonly string[];
}

/** Beam's container flags as a map (`--name=value`), with the quotes a runner may put around a value removed. */
export function parseBootFlags(argv: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const a of argv) {
    const m = /^--([a-z_]+)=(.*)$/s.exec(a);
    if (m === null) continue;
    let v = m[2] as string;
    if (v.length >= 2 && ((v.startsWith("'") && v.endsWith("'")) || (v.startsWith('"') && v.endsWith('"')))) {
      v = v.slice(1, -1);
    }
    out.set(m[1] as string, v);
  }
  return out;
}
