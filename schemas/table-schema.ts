/**
 * One definition of a table's columns, from which the DuckDB DDL and the BigQuery JSON schema are generated.
 * The TypeScript row types in `tables.ts` are written to match and checked by the tests.
 */
export type ColumnType = "STRING" | "INT64" | "FLOAT64" | "BOOL" | "TIMESTAMP" | "JSON" | "STRING_ARRAY";

export interface Column {
  readonly name: string;
  readonly type: ColumnType;
  readonly required: boolean;
  readonly description: string;
}

export interface TableSchema {
  readonly name: string;
  readonly description: string;
  readonly columns: readonly Column[];
  /** Columns that identify a row: Bronze and Silver are idempotent on them, Gold is upserted on them. */
  readonly key: readonly string[];
  /** Partitioning and clustering hints for BigQuery. */
  readonly partitionBy?: string;
  readonly clusterBy?: readonly string[];
}

export const DUCKDB_TYPES: Record<ColumnType, string> = {
  STRING: "VARCHAR",
  INT64: "BIGINT",
  FLOAT64: "DOUBLE",
  BOOL: "BOOLEAN",
  TIMESTAMP: "TIMESTAMPTZ",
  JSON: "JSON",
  STRING_ARRAY: "VARCHAR[]",
};

/**
 * `CREATE TABLE IF NOT EXISTS` for DuckDB: with the key as primary key, or (`primaryKey: false`, for a table whose
 * writer keeps the key unique itself) with the key columns only NOT NULL.
 */
export function duckdbDdl(t: TableSchema, options: { readonly primaryKey?: boolean } = {}): string {
  const notNull = (c: Column) => c.required || (options.primaryKey === false && t.key.includes(c.name));
  const cols = t.columns.map((c) => `  ${c.name} ${DUCKDB_TYPES[c.type]}${notNull(c) ? " NOT NULL" : ""}`);
  if (options.primaryKey === false) return `CREATE TABLE IF NOT EXISTS ${t.name} (\n${cols.join(",\n")}\n)`;
  return `CREATE TABLE IF NOT EXISTS ${t.name} (\n${cols.join(",\n")},\n  PRIMARY KEY (${t.key.join(", ")})\n)`;
}

/** A BigQuery field (REST API shape). */
export interface BigQueryFieldSpec {
  readonly name: string;
  readonly type: string;
  readonly mode: "REQUIRED" | "NULLABLE" | "REPEATED";
  readonly description: string;
}

/** The BigQuery JSON schema (the file `bq mk --schema` takes). */
export function bigQuerySchema(t: TableSchema): BigQueryFieldSpec[] {
  return t.columns.map((c) => ({
    name: c.name,
    type: c.type === "STRING_ARRAY" ? "STRING" : c.type,
    mode: c.type === "STRING_ARRAY" ? "REPEATED" : c.required ? "REQUIRED" : "NULLABLE",
    description: c.description,
  }));
}

/**
 * The BigQuery table resource (REST API shape, the body of `tables.insert` without its reference): the schema, the
 * description, day partitioning on `partitionBy` and clustering on `clusterBy`.
 */
export function bigQueryTable(t: TableSchema): {
  description: string;
  schema: { fields: BigQueryFieldSpec[] };
  timePartitioning?: { type: "DAY"; field: string };
  clustering?: { fields: string[] };
} {
  return {
    description: t.description,
    schema: { fields: bigQuerySchema(t) },
    ...(t.partitionBy === undefined ? {} : { timePartitioning: { type: "DAY" as const, field: t.partitionBy } }),
    ...(t.clusterBy === undefined ? {} : { clustering: { fields: [...t.clusterBy] } }),
  };
}
