import { BigQuery } from "@google-cloud/bigquery";
import { afterAll, afterEach, beforeAll } from "vitest";
import { type AppendMethod, BigQueryWarehouse } from "../../../io/bigquery/bigquery-warehouse.ts";
import { type BigQueryEmulator, startBigQueryEmulator } from "../../../io/bigquery/emulator.ts";
import type { Warehouse } from "../../../io/warehouse.ts";
import { TABLES, WRITE_ERRORS } from "../../../schemas/tables.ts";

/**
 * One dataset for every test of a file, emptied before each, and created before any other: the emulator resolves a
 * bare table name in the first dataset it holds, whatever the query's default dataset (real BigQuery uses the
 * default dataset).
 */
export const DATASET = "tidemark";

/**
 * Starts the BigQuery emulator before the file's tests and stops it after. `warehouse()` opens a BigQueryWarehouse
 * on the dataset with every table emptied (closed after the test).
 */
export function useBigQueryEmulator(): {
  emulator(): BigQueryEmulator;
  warehouse(appendMethod?: AppendMethod): Promise<BigQueryWarehouse>;
} {
  let emulator: BigQueryEmulator | undefined;
  let opened: BigQueryWarehouse[] = [];
  beforeAll(async () => {
    process.env.METADATA_SERVER_DETECTION = "none";
    emulator = await startBigQueryEmulator();
    // Created first, so that it is the dataset bare table names resolve in.
    await new BigQuery({ projectId: emulator.projectId, apiEndpoint: emulator.apiEndpoint }).createDataset(DATASET);
  }, 120_000);
  afterEach(async () => {
    for (const w of opened) await w.close();
    opened = [];
  });
  afterAll(async () => {
    await emulator?.stop();
  });
  const open = (appendMethod: AppendMethod = "storage-write") => {
    const e = emulator as BigQueryEmulator;
    return new BigQueryWarehouse({
      projectId: e.projectId,
      dataset: DATASET,
      apiEndpoint: e.apiEndpoint,
      storageEndpoint: e.grpcEndpoint,
      appendMethod,
    });
  };
  return {
    emulator: () => emulator as BigQueryEmulator,
    async warehouse(appendMethod) {
      const w = open(appendMethod);
      opened.push(w);
      await w.open();
      const deletes = [...TABLES, WRITE_ERRORS].map((t) => `DELETE FROM \`${DATASET}.${t.name}\` WHERE TRUE`);
      await w.bq.query({ query: deletes.join(";\n") });
      return w;
    },
  };
}

/** Every medallion table's rows, each sorted by its key (SQL-dialect free, for comparing warehouses). */
export async function tablesOf(w: Warehouse): Promise<Record<string, Record<string, unknown>[]>> {
  const out: Record<string, Record<string, unknown>[]> = {};
  for (const t of TABLES) {
    const rows = await w.query(`SELECT * FROM ${t.name}`);
    const key = (r: Record<string, unknown>) => JSON.stringify(t.key.map((k) => r[k]));
    out[t.name] = rows.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  }
  return out;
}
