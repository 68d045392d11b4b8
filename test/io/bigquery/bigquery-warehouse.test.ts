import { afterAll, afterEach, beforeAll } from "vitest";
import { type AppendMethod, BigQueryWarehouse } from "../../../io/bigquery/bigquery-warehouse.ts";
import { type BigQueryEmulator, startBigQueryEmulator } from "../../../io/bigquery/emulator.ts";
import { TABLES, WRITE_ERRORS } from "../../../schemas/tables.ts";
import { warehouseContract } from "../warehouse-contract.ts";

let emulator: BigQueryEmulator;
let opened: BigQueryWarehouse[] = [];
/**
 * One dataset for every test, emptied before each: the emulator resolves a bare table name in the first dataset it
 * holds whatever the query's default dataset (real BigQuery uses the default dataset).
 */
const DATASET = "contract";

beforeAll(async () => {
  process.env.METADATA_SERVER_DETECTION = "none";
  emulator = await startBigQueryEmulator();
}, 120_000);

afterAll(async () => {
  await emulator?.stop();
});

afterEach(async () => {
  for (const w of opened) await w.close();
  opened = [];
});

/** A warehouse on the emulator's dataset, opened, its tables emptied. */
async function bigQueryWarehouse(appendMethod: AppendMethod): Promise<BigQueryWarehouse> {
  const w = new BigQueryWarehouse({
    projectId: emulator.projectId,
    dataset: DATASET,
    apiEndpoint: emulator.apiEndpoint,
    storageEndpoint: emulator.grpcEndpoint,
    appendMethod,
  });
  opened.push(w);
  await w.open();
  const tables = [...TABLES, WRITE_ERRORS].map((t) => `DELETE FROM \`${DATASET}.${t.name}\` WHERE TRUE`);
  await w.bq.query({ query: tables.join(";\n") });
  return w;
}

warehouseContract("BigQueryWarehouse (Storage Write API, emulator)", () => bigQueryWarehouse("storage-write"));
warehouseContract("BigQueryWarehouse (insertAll, emulator)", () => bigQueryWarehouse("insert-all"));
