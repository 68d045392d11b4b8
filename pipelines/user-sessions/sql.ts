import { DuckDbWarehouse } from "../../io/duckdb/duckdb-warehouse.ts";

/**
 * `npm run sql -- "SELECT ..." [--warehouse=duckdb:PATH]`: runs a read-only query on the local warehouse and prints
 * the rows as a table (timestamps as ISO strings).
 */
async function main(args: string[]): Promise<void> {
  const spec =
    args.find((a) => a.startsWith("--warehouse="))?.slice("--warehouse=".length) ?? "duckdb:./data/tidemark.duckdb";
  const sql = args.filter((a) => !a.startsWith("--")).join(" ");
  if (!sql) throw new Error('usage: npm run sql -- "SELECT ..." [--warehouse=duckdb:PATH]');
  if (!spec.startsWith("duckdb:")) throw new Error(`--warehouse must be duckdb:PATH, got ${JSON.stringify(spec)}`);
  const warehouse = await DuckDbWarehouse.create(spec.slice("duckdb:".length));
  try {
    const rows = await warehouse.query(sql);
    const shown = rows.map((r) =>
      Object.fromEntries(
        Object.entries(r).map(([k, v]) => [
          k,
          typeof v === "number" && /(_time|_start|_end|_at)$/.test(k) ? new Date(v).toISOString() : v,
        ]),
      ),
    );
    console.table(shown);
  } finally {
    await warehouse.close();
  }
}

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
