/**
 * One definition of a table's columns, from which the DuckDB DDL and the BigQuery JSON schema are generated.
 * The TypeScript row types in `tables.ts` are written to match and checked by the tests.
 */
export type ColumnType =
  | "STRING"
  | "INT64"
  | "FLOAT64"
  | "BOOL"
  | "TIMESTAMP"
  | "JSON"
  | "STRING_ARRAY"
  | "RECORD_ARRAY";

/** The types a record's field may have (a record holds scalars only: no records in records). */
export type FieldType = Exclude<ColumnType, "RECORD_ARRAY" | "STRING_ARRAY" | "JSON">;

export interface Column {
  readonly name: string;
  readonly type: ColumnType;
  readonly required: boolean;
  readonly description: string;
  /**
   * RECORD_ARRAY only: the fields of each record (a list of records: BigQuery's REPEATED RECORD, DuckDB's
   * `STRUCT(...)[]`). A required field must be set in every record.
   */
  readonly fields?: readonly RecordField[];
}

/** A field of a RECORD_ARRAY column's records. */
export interface RecordField {
  readonly name: string;
  readonly type: FieldType;
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

export const DUCKDB_TYPES: Record<Exclude<ColumnType, "RECORD_ARRAY">, string> = {
  STRING: "VARCHAR",
  INT64: "BIGINT",
  FLOAT64: "DOUBLE",
  BOOL: "BOOLEAN",
  TIMESTAMP: "TIMESTAMPTZ",
  JSON: "JSON",
  STRING_ARRAY: "VARCHAR[]",
};

/** A column's DuckDB type: `DUCKDB_TYPES`, or for a RECORD_ARRAY `STRUCT(field TYPE, ...)[]`. */
export function duckdbType(c: Column): string {
  if (c.type !== "RECORD_ARRAY") return DUCKDB_TYPES[c.type];
  const fields = recordFields(c).map((f) => `"${f.name}" ${DUCKDB_TYPES[f.type]}`);
  return `STRUCT(${fields.join(", ")})[]`;
}

/** The fields of a RECORD_ARRAY column; an Error naming the column when it has none. */
export function recordFields(c: Column): readonly RecordField[] {
  if (c.fields === undefined || c.fields.length === 0) {
    throw new Error(`column ${c.name}: a RECORD_ARRAY column needs its fields`);
  }
  return c.fields;
}

/**
 * `CREATE TABLE IF NOT EXISTS` for DuckDB: with the key as primary key, or (`primaryKey: false`, for a table whose
 * writer keeps the key unique itself) with the key columns only NOT NULL.
 */
export function duckdbDdl(t: TableSchema, options: { readonly primaryKey?: boolean } = {}): string {
  const notNull = (c: Column) => c.required || (options.primaryKey === false && t.key.includes(c.name));
  const cols = t.columns.map((c) => `  ${c.name} ${duckdbType(c)}${notNull(c) ? " NOT NULL" : ""}`);
  if (options.primaryKey === false) return `CREATE TABLE IF NOT EXISTS ${t.name} (\n${cols.join(",\n")}\n)`;
  return `CREATE TABLE IF NOT EXISTS ${t.name} (\n${cols.join(",\n")},\n  PRIMARY KEY (${t.key.join(", ")})\n)`;
}

/** A BigQuery field (REST API shape). */
export interface BigQueryFieldSpec {
  readonly name: string;
  readonly type: string;
  readonly mode: "REQUIRED" | "NULLABLE" | "REPEATED";
  readonly description: string;
  /** A RECORD's fields. */
  readonly fields?: BigQueryFieldSpec[];
}

/** The BigQuery JSON schema (the file `bq mk --schema` takes). A RECORD_ARRAY is a REPEATED RECORD. */
export function bigQuerySchema(t: TableSchema): BigQueryFieldSpec[] {
  return t.columns.map((c) => {
    if (c.type === "RECORD_ARRAY") {
      const fields = recordFields(c).map(
        (f): BigQueryFieldSpec => ({
          name: f.name,
          type: f.type,
          mode: f.required ? "REQUIRED" : "NULLABLE",
          description: f.description,
        }),
      );
      return { name: c.name, type: "RECORD", mode: "REPEATED", description: c.description, fields };
    }
    return {
      name: c.name,
      type: c.type === "STRING_ARRAY" ? "STRING" : c.type,
      mode: c.type === "STRING_ARRAY" ? "REPEATED" : c.required ? "REQUIRED" : "NULLABLE",
      description: c.description,
    };
  });
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
