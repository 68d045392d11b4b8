/** What bench/medallion.ts reports to bench/run.ts, on one line after this marker. */
export const MEDALLION_RESULT_MARKER = "@@medallion-result ";

export interface MedallionResult {
  messages: number;
  elapsedMs: number;
  rows: Record<string, number>;
  deadLettered: number;
  maxRssKiB: number;
}
