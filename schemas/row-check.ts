import { type Column, type RecordField, recordFields, type TableSchema } from "./table-schema.ts";

/**
 * What is wrong with a row for its table, or undefined: a missing required value, or a value of the wrong JS type
 * for its column (the row types' forms: times as epoch ms, JSON columns as objects, arrays of strings). The message
 * names the table and the column.
 */
export function rowProblem(table: TableSchema, row: object): string | undefined {
  const values = row as Readonly<Record<string, unknown>>;
  for (const column of table.columns) {
    const value = values[column.name];
    if (value === null || value === undefined) {
      if (column.required) return `${table.name}.${column.name}: required, got ${String(value)}`;
      continue;
    }
    if (!fits(column, value)) return `${table.name}.${column.name}: expected ${column.type}, got ${describe(value)}`;
  }
  return undefined;
}

function fits(column: Column | RecordField, value: unknown): boolean {
  switch (column.type) {
    case "STRING":
      return typeof value === "string";
    case "INT64":
      return (typeof value === "number" && Number.isSafeInteger(value)) || typeof value === "bigint";
    case "FLOAT64":
      return typeof value === "number";
    case "BOOL":
      return typeof value === "boolean";
    case "TIMESTAMP":
      return typeof value === "number" && Number.isFinite(value);
    case "JSON":
      return typeof value === "object";
    case "STRING_ARRAY":
      return Array.isArray(value) && value.every((s) => typeof s === "string");
    case "RECORD_ARRAY":
      return Array.isArray(value) && value.every((r) => isRecordOf(column as Column, r));
    default: {
      const unknownType: never = column;
      throw new Error(`unknown column type ${String((unknownType as Column).type)}`);
    }
  }
}

/** Whether `r` is an object whose fields fit the RECORD_ARRAY column's fields (required ones set). */
function isRecordOf(column: Column, r: unknown): boolean {
  if (typeof r !== "object" || r === null || Array.isArray(r)) return false;
  for (const f of recordFields(column)) {
    const v = (r as Readonly<Record<string, unknown>>)[f.name];
    if (v === null || v === undefined) {
      if (f.required) return false;
    } else if (!fits(f, v)) return false;
  }
  return true;
}

/** A value as error messages show it: its type and JSON. */
export function describe(value: unknown): string {
  return Array.isArray(value) ? "an array" : `${typeof value} ${JSON.stringify(value) ?? String(value)}`;
}
