/**
 * The BigQuery benchmark's child: starts the BigQuery emulator and writes the same Silver rows (`--rows`, in batches
 * of 5,000, as the pipeline flushes them) through BigQueryWarehouse.appendSilver twice, each into a fresh dataset:
 * with the Storage Write API, then with insertAll (the baseline). Each write is the whole idempotent path: the batch
 * appended to the staging table, then moved by one INSERT of the keys not yet in the table. Prints one result line.
 */
import { BigQueryWarehouse, type AppendMethod } from "../io/bigquery/bigquery-warehouse.ts";
import { startBigQueryEmulator } from "../io/bigquery/emulator.ts";
import type { SilverRow } from "../schemas/rows.ts";
import { type BigQueryBenchResult, RESULT_MARKER } from "./child-result.ts";

const BATCH = 5_000;

function silverRows(n: number): SilverRow[] {
  const t0 = Date.UTC(2026, 10, 1);
  const types = ["page_view", "button_click", "purchase", "session_start"];
  return Array.from({ length: n }, (_, i) => ({
    event_id: `e-${i.toString(36)}-${((i * 2654435761) >>> 0).toString(16)}`,
    event_type: types[i % types.length] as string,
    tenant_id: `tenant-${i % 7}`,
    user_id: `u-${i % 997}`,
    event_time: t0 + i * 137,
    event_time_raw: new Date(t0 + i * 137).toISOString(),
    ingest_time: t0 + i * 137 + 2_000,
    lateness_ms: 2_000,
    is_late: i % 10 === 0,
    platform: i % 3 === 0 ? "ios" : "web",
    schema_version: 1,
    device: i % 2 === 0 ? "Pixel 8 / Android 15" : null,
    page: `/page/${i % 50}`,
    amount: i % 4 === 2 ? (i % 100) + 0.99 : null,
    currency: i % 4 === 2 ? "EUR" : null,
    items: i % 4 === 2 ? (i % 5) + 1 : null,
    acquisition_source: null,
    button: i % 4 === 1 ? "cta" : null,
    properties: { referrer: i % 2 === 0 ? "internal" : "direct" },
    message_id: `m-${i}`,
    correlation_id: `c-${i}`,
  }));
}

async function main(): Promise<void> {
  process.env.METADATA_SERVER_DETECTION = "none";
  const raw = process.argv.find((a) => a.startsWith("--rows="));
  const n = raw === undefined ? 50_000 : Number(raw.slice("--rows=".length).replaceAll("_", ""));
  const rows = silverRows(n);
  const emulator = await startBigQueryEmulator();
  try {
    const timeOf = async (method: AppendMethod): Promise<number> => {
      const w = new BigQueryWarehouse({
        projectId: emulator.projectId,
        dataset: `bench_${method.replace("-", "_")}`,
        apiEndpoint: emulator.apiEndpoint,
        storageEndpoint: emulator.grpcEndpoint,
        appendMethod: method,
      });
      await w.open();
      // One small batch first: connections and streams are opened outside the timing.
      await w.appendSilver(rows.slice(0, 10));
      const started = performance.now();
      for (let i = 0; i < rows.length; i += BATCH) await w.appendSilver(rows.slice(i, i + BATCH));
      const ms = performance.now() - started;
      const count = (await w.counts()).silver_events;
      await w.close();
      if (count !== n) throw new Error(`${method}: ${count} rows in silver_events, expected ${n}`);
      return ms;
    };
    const storageWriteMs = await timeOf("storage-write");
    const insertAllMs = await timeOf("insert-all");
    const result: BigQueryBenchResult = {
      rows: n,
      storageWriteMs,
      insertAllMs,
      maxRssKiB: process.resourceUsage().maxRSS,
    };
    process.stdout.write(`${RESULT_MARKER}${JSON.stringify(result)}\n`);
  } finally {
    await emulator.stop();
  }
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
