/**
 * Puts one Parquet file in a local archive, as the archive sink does (scratch file, then `put`): run under strace by
 * archive-durable.test.ts. Argument: the archive's folder.
 */
import { join } from "node:path";
import { openArchiveStore } from "../../../io/archive/archive-location.ts";
import { ParquetFileWriter } from "../../../io/archive/archive-write.ts";
import { BRONZE } from "../../../schemas/tables.ts";

const dir = process.argv[2] as string;
const store = openArchiveStore({ kind: "file", dir });
const writer = await ParquetFileWriter.open(BRONZE);
const scratch = join(store.scratchDir, "one.parquet.tmp");
const t = Date.UTC(2026, 0, 5, 14, 30);
await writer.write(
  [{ message_id: "m1", publish_time: t, ingest_time: t + 1, payload: "p", attributes: {}, valid: true }],
  scratch,
  "zstd",
);
await store.put("dt=2026-01-05/hour=14/part-one.parquet", scratch);
writer.close();
await store.close();
