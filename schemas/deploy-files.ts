import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { bigQuerySchema, bigQueryTable } from "./table-schema.ts";
import { TABLES, WRITE_ERRORS } from "./tables.ts";

/**
 * The files in `deploy/bigquery/` generated from the schemas (the one source of truth): per table, its JSON schema
 * (`bq mk --schema=FILE`) and its table resource (description, partitioning, clustering, schema). A test checks that
 * the checked-in files equal these; `npm run schemas` writes them.
 */
export function bigQueryDeployFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const t of [...TABLES, WRITE_ERRORS]) {
    files[`deploy/bigquery/${t.name}.schema.json`] = `${JSON.stringify(bigQuerySchema(t), null, 2)}\n`;
    files[`deploy/bigquery/${t.name}.table.json`] = `${JSON.stringify(bigQueryTable(t), null, 2)}\n`;
  }
  return files;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  for (const [path, content] of Object.entries(bigQueryDeployFiles())) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
    process.stdout.write(`wrote ${path}\n`);
  }
}
