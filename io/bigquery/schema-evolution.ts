/** A BigQuery table field as the REST API gives and takes it (the subset the medallion tables use). */
export interface BigQueryField {
  readonly name: string;
  readonly type: string;
  readonly mode?: string;
  readonly description?: string;
  /** A RECORD's fields. */
  readonly fields?: readonly BigQueryField[];
}

/** What opening a table must do to make it match the schema. */
export interface SchemaPlan {
  /** NULLABLE (or REPEATED) columns the schema has and the table lacks: added before any write. */
  readonly add: readonly BigQueryField[];
  /** REQUIRED columns of the table that the schema makes NULLABLE: relaxed (BigQuery allows it). */
  readonly relax: readonly string[];
}

/** Type names the API may report for one type (legacy and standard SQL names). */
const SAME_TYPE: Record<string, string> = {
  INTEGER: "INT64",
  FLOAT: "FLOAT64",
  BOOLEAN: "BOOL",
  RECORD: "STRUCT",
};
const normalType = (t: string): string => SAME_TYPE[t.toUpperCase()] ?? t.toUpperCase();
const modeOf = (f: BigQueryField): string => (f.mode ?? "NULLABLE").toUpperCase();

/**
 * Compares a table's fields with the schema's. Compatible changes (a new NULLABLE or REPEATED column; a REQUIRED
 * column made NULLABLE; a NULLABLE column the schema no longer has, which stays and is left NULL) are planned; an
 * incompatible one (a type changed, a mode tightened or changed to or from REPEATED, a new REQUIRED column, a
 * REQUIRED column removed) throws an Error naming the table and every column at fault, before anything is written.
 * A RECORD's fields are not evolved: a field added, dropped or changed inside a record is refused too, naming it
 * (`line_items.discount`), at open rather than at the first write of such a record.
 */
export function planSchemaChange(
  table: string,
  existing: readonly BigQueryField[],
  wanted: readonly BigQueryField[],
): SchemaPlan {
  const have = new Map(existing.map((f) => [f.name.toLowerCase(), f]));
  const want = new Map(wanted.map((f) => [f.name.toLowerCase(), f]));
  const problems: string[] = [];
  const add: BigQueryField[] = [];
  const relax: string[] = [];
  for (const w of wanted) {
    const h = have.get(w.name.toLowerCase());
    if (h === undefined) {
      if (modeOf(w) === "REQUIRED") {
        problems.push(`${w.name}: a new REQUIRED column cannot be added to a table that has rows (make it NULLABLE)`);
      } else add.push(w);
      continue;
    }
    if (normalType(h.type) !== normalType(w.type)) {
      problems.push(`${w.name}: type ${normalType(h.type)} in the table, ${normalType(w.type)} in the schema`);
    } else if (normalType(w.type) === "STRUCT")
      problems.push(...recordProblems(w.name, h.fields ?? [], w.fields ?? []));
    const [hm, wm] = [modeOf(h), modeOf(w)];
    if (hm === wm) continue;
    if (hm === "REQUIRED" && wm === "NULLABLE") relax.push(w.name);
    else problems.push(`${w.name}: mode ${hm} in the table, ${wm} in the schema`);
  }
  for (const h of existing) {
    if (!want.has(h.name.toLowerCase()) && modeOf(h) === "REQUIRED") {
      problems.push(`${h.name}: REQUIRED in the table and no longer in the schema (rows could not be written)`);
    }
  }
  if (problems.length > 0) {
    throw new Error(
      `BigQuery table ${table} is incompatible with the schema, nothing was written:\n  ${problems.join("\n  ")}`,
    );
  }
  return { add, relax };
}

/** How a record's fields in the table differ from the schema's (any difference: a record's fields are not evolved). */
function recordProblems(path: string, existing: readonly BigQueryField[], wanted: readonly BigQueryField[]): string[] {
  const have = new Map(existing.map((f) => [f.name.toLowerCase(), f]));
  const want = new Set(wanted.map((f) => f.name.toLowerCase()));
  const problems: string[] = [];
  const notEvolved = "(the fields of a record are not evolved: migrate the table, or write to another dataset)";
  for (const w of wanted) {
    const at = `${path}.${w.name}`;
    const h = have.get(w.name.toLowerCase());
    if (h === undefined) problems.push(`${at}: in the schema, not in the table's records ${notEvolved}`);
    else if (normalType(h.type) !== normalType(w.type)) {
      problems.push(`${at}: type ${normalType(h.type)} in the table, ${normalType(w.type)} in the schema`);
    } else if (modeOf(h) !== modeOf(w))
      problems.push(`${at}: mode ${modeOf(h)} in the table, ${modeOf(w)} in the schema`);
    else if (normalType(w.type) === "STRUCT") problems.push(...recordProblems(at, h.fields ?? [], w.fields ?? []));
  }
  for (const h of existing) {
    if (!want.has(h.name.toLowerCase())) {
      problems.push(`${path}.${h.name}: in the table's records, not in the schema ${notEvolved}`);
    }
  }
  return problems;
}
