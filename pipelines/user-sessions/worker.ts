/**
 * The medallion job as a pipeline module for worker processes (`bin/tidemark-worker`, Beam's container boot): the
 * launcher names this module and its command line in the job's pipeline options (`tidemark_pipeline`), and each
 * worker builds the same graph from them (the same steps, found by name), with its own warehouse connection and
 * input. Nothing runs here: the runner sends the worker its bundles.
 */
import { Pipeline } from "../../core/pipeline.ts";
import type { PipelineModuleSpec } from "../../runners/portable/worker/boot-spec.ts";
import { medallionOptions, openFeeds, openSource, openWarehouse, parseJobOptions } from "./job-options.ts";
import { medallion } from "./pipeline.ts";

/** This module, as a launcher names it for its workers (the same command line). */
export function medallionModule(argv: readonly string[]): PipelineModuleSpec {
  return { module: "pipelines/user-sessions/worker.ts", export: "build", args: [...argv] };
}

/** Builds the medallion job's pipeline from its command line, as the launcher did. */
export async function build(args: readonly string[]): Promise<Pipeline> {
  const { options: o } = parseJobOptions(args);
  const warehouse = await openWarehouse(o);
  await warehouse.open();
  const p = Pipeline.create();
  medallion(p, openSource(o).source, warehouse, {
    ...medallionOptions(o),
    batchRows: o.batchRows,
    feeds: openFeeds(o).feeds,
  });
  return p;
}
