import { describe, expect, it } from "vitest";
import { type BigQueryField, planSchemaChange } from "../../../io/bigquery/schema-evolution.ts";

const f = (name: string, type: string, mode = "NULLABLE"): BigQueryField => ({ name, type, mode });
const table = [f("id", "STRING", "REQUIRED"), f("n", "INTEGER"), f("tags", "STRING", "REPEATED")];

describe("planSchemaChange", () => {
  it("nothing to do when the table matches (legacy type names count as the same type)", () => {
    expect(
      planSchemaChange("d.t", table, [f("id", "STRING", "REQUIRED"), f("n", "INT64"), f("tags", "STRING", "REPEATED")]),
    ).toEqual({ add: [], relax: [] });
  });

  it("a new NULLABLE or REPEATED column is added; a REQUIRED column made NULLABLE is relaxed", () => {
    const plan = planSchemaChange("d.t", table, [
      f("id", "STRING"),
      f("n", "INT64"),
      f("tags", "STRING", "REPEATED"),
      f("extra", "STRING"),
      f("list", "INT64", "REPEATED"),
    ]);
    expect(plan).toEqual({ add: [f("extra", "STRING"), f("list", "INT64", "REPEATED")], relax: ["id"] });
  });

  it("a NULLABLE column the schema dropped stays (left NULL)", () => {
    expect(planSchemaChange("d.t", table, [f("id", "STRING", "REQUIRED"), f("tags", "STRING", "REPEATED")])).toEqual({
      add: [],
      relax: [],
    });
  });

  it("refuses every incompatible change at once, naming the table and each column", () => {
    const run = () =>
      planSchemaChange("ds.silver_events", table, [
        f("n", "STRING"),
        f("tags", "STRING"),
        f("must", "BOOL", "REQUIRED"),
      ]);
    expect(run).toThrow("BigQuery table ds.silver_events is incompatible with the schema, nothing was written");
    expect(run).toThrow("n: type INT64 in the table, STRING in the schema");
    expect(run).toThrow("tags: mode REPEATED in the table, NULLABLE in the schema");
    expect(run).toThrow("must: a new REQUIRED column cannot be added");
    expect(run).toThrow("id: REQUIRED in the table and no longer in the schema");
  });

  it("refuses tightening NULLABLE to REQUIRED", () => {
    expect(() =>
      planSchemaChange("d.t", table, [...table.slice(0, 1), f("n", "INT64", "REQUIRED"), table[2]!]),
    ).toThrow("n: mode NULLABLE in the table, REQUIRED in the schema");
  });
});

describe("planSchemaChange: a RECORD's fields", () => {
  const record = (fields: BigQueryField[]): BigQueryField => ({ ...f("line_items", "RECORD", "REPEATED"), fields });
  const lines = [f("sku", "STRING", "REQUIRED"), f("quantity", "INTEGER", "REQUIRED")];

  it("the same fields (legacy type names too): nothing to do", () => {
    const wanted = [record([f("sku", "STRING", "REQUIRED"), f("quantity", "INT64", "REQUIRED")])];
    expect(planSchemaChange("d.silver_orders", [record(lines)], wanted)).toEqual({ add: [], relax: [] });
  });

  it("refuses a field added, dropped or changed inside a record, naming it (it was planned as no change)", () => {
    const run = (wanted: BigQueryField[]) => () =>
      planSchemaChange("d.silver_orders", [record(lines)], [record(wanted)]);
    expect(run([...lines, f("unit_price", "FLOAT64", "REQUIRED")])).toThrow(
      "BigQuery table d.silver_orders is incompatible with the schema, nothing was written:\n" +
        "  line_items.unit_price: in the schema, not in the table's records (the fields of a record are not evolved",
    );
    expect(run([...lines, f("note", "STRING")])).toThrow("line_items.note: in the schema, not in the table's records");
    expect(run(lines.slice(0, 1))).toThrow("line_items.quantity: in the table's records, not in the schema");
    expect(run([lines[0]!, f("quantity", "FLOAT64", "REQUIRED")])).toThrow(
      "line_items.quantity: type INT64 in the table, FLOAT64 in the schema",
    );
    expect(run([lines[0]!, f("quantity", "INT64")])).toThrow(
      "line_items.quantity: mode REQUIRED in the table, NULLABLE in the schema",
    );
  });
});
