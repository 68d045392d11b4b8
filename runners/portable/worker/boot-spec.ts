/** The pipeline option naming the module that builds the job's pipeline in a worker process (`boot.ts`). */
export const PIPELINE_MODULE_OPTION = "tidemark_pipeline";

/**
 * The pipeline option asking a worker process for per-step processing time (`true`): it runs a sampler
 * (`runners/observe/step-time.ts`) and its bundles report Beam's `process_bundle_msecs`.
 */
export const PROCESSING_TIME_OPTION = "tidemark_processing_time";

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
