import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { bigQueryDeployFiles } from "../../schemas/deploy-files.ts";
import { TABLES } from "../../schemas/tables.ts";

describe("deploy/bigquery: generated from schemas/", () => {
  it("the checked-in files equal what `npm run schemas` generates (run it after changing a schema)", () => {
    const files = bigQueryDeployFiles();
    expect(Object.keys(files)).toHaveLength((TABLES.length + 1) * 2);
    for (const [path, content] of Object.entries(files)) expect(readFileSync(path, "utf8"), path).toBe(content);
  });

  it("every column has a description, Silver and Gold are clustered by tenant and user, all are day-partitioned", () => {
    for (const t of TABLES) {
      const table = JSON.parse(bigQueryDeployFiles()[`deploy/bigquery/${t.name}.table.json`] as string);
      expect(table.timePartitioning, t.name).toEqual({ type: "DAY", field: t.partitionBy });
      for (const f of table.schema.fields) expect(f.description.length, `${t.name}.${f.name}`).toBeGreaterThan(5);
    }
    const clusterOf = (name: string) =>
      JSON.parse(bigQueryDeployFiles()[`deploy/bigquery/${name}.table.json`] as string).clustering?.fields;
    expect(clusterOf("silver_events")).toEqual(["tenant_id", "user_id"]);
    expect(clusterOf("gold_sessions")).toEqual(["tenant_id", "user_id"]);
    expect(
      JSON.parse(bigQueryDeployFiles()["deploy/bigquery/bronze_messages.table.json"] as string).timePartitioning,
    ).toEqual({ type: "DAY", field: "ingest_time" });
  });
});
