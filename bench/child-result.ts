/** A benchmark child prints its result as one JSON line after this marker; the parent reads that line. */
export const RESULT_MARKER = "@@tidemark-bench-result ";

/** What bench/medallion.ts reports to bench/run.ts. */
export interface MedallionResult {
  messages: number;
  elapsedMs: number;
  rows: Record<string, number>;
  deadLettered: number;
  maxRssKiB: number;
}

/** What bench/pubsub.ts reports to bench/run.ts. */
export interface PubsubBenchResult {
  messages: number;
  /** The bare client receiving and acknowledging every message. */
  bareMs: number;
  /** The medallion pipeline from the same backlog into DuckDB, drain included. */
  pipelineMs: number;
  acknowledged: number;
  rows: Record<string, number>;
  maxRssKiB: number;
}

/** What bench/bigquery.ts reports to bench/run.ts. */
export interface BigQueryBenchResult {
  rows: number;
  /** appendSilver through the Storage Write API (staging + one INSERT per batch). */
  storageWriteMs: number;
  /** The same through insertAll (the baseline). */
  insertAllMs: number;
  maxRssKiB: number;
}

/** What bench/prism.ts reports to bench/run.ts: each side's faster run on the same Prism and events. */
export interface PrismBenchResult {
  events: number;
  tidemark: { sessions: number; events: number; checksum: number; ms: number };
  beamPython: { sessions: number; events: number; checksum: number; ms: number };
  tidemarkRuns: number[];
  beamPythonRuns: number[];
  same: boolean;
}
