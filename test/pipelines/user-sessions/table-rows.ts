import type { Warehouse } from "../../../io/warehouse.ts";

/** A table's rows as sorted JSON lines, without the columns named (those a runner may set differently). */
export async function tableRows(w: Warehouse, table: string, without: readonly string[] = []): Promise<string[]> {
  const all = (await w.query(`SELECT * FROM ${table}`)) as Record<string, unknown>[];
  return all
    .map((r) =>
      JSON.stringify(
        Object.entries(r).filter(([k]) => !without.includes(k)),
        (_, v) => (typeof v === "bigint" ? String(v) : v),
      ),
    )
    .sort();
}
