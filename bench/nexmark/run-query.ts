/**
 * Runs one Nexmark query on the direct runner: `source` (the generator or a file) into the query, each result handed
 * to `onResult` with its window (as `[start, end]` in ms, or null for the global window) and timestamp.
 */
import { Pipeline } from "../../core/pipeline.ts";
import type { Source } from "../../core/source.ts";
import { isIntervalWindow } from "../../core/windows/window.ts";
import { DirectRunner } from "../../runners/direct/direct-runner.ts";
import { parDo } from "../../transforms/par-do.ts";
import { read } from "../../transforms/read.ts";
import type { NexmarkEvent } from "./model.ts";
import { nexmarkQuery, type QueryName } from "./queries/index.ts";
import { DEFAULT_QUERY_CONFIG, type QueryConfig } from "./queries/query-config.ts";

export type WindowSpan = readonly [start: number, end: number] | null;

export interface QueryResult {
  readonly window: WindowSpan;
  readonly timestamp: number;
  readonly value: unknown;
  /** The pane's index in its window (0 for the only pane of a window fired once). */
  readonly paneIndex: number;
}

export async function runQuery(
  name: QueryName,
  source: Source<NexmarkEvent>,
  onResult: (value: unknown, window: WindowSpan, timestamp: number, paneIndex: number) => void,
  config: QueryConfig = DEFAULT_QUERY_CONFIG,
): Promise<void> {
  const p = Pipeline.create();
  p.apply(read(source))
    .apply(nexmarkQuery(name, config))
    .apply(
      parDo<unknown, never>(
        {
          process(value, ctx) {
            const w = ctx.window;
            onResult(value, isIntervalWindow(w) ? [w.start, w.end] : null, ctx.timestamp, ctx.pane.index);
          },
        },
        "Results",
      ),
    );
  await new DirectRunner().run(p);
}

/** Every result of a query, in the order produced. */
export async function collectQuery(
  name: QueryName,
  source: Source<NexmarkEvent>,
  config: QueryConfig = DEFAULT_QUERY_CONFIG,
): Promise<QueryResult[]> {
  const out: QueryResult[] = [];
  await runQuery(
    name,
    source,
    (value, window, timestamp, paneIndex) => out.push({ window, timestamp, value, paneIndex }),
    config,
  );
  return out;
}
