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
