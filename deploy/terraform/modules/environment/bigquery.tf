# The BigQuery tables, one per deploy/bigquery/NAME.table.json (generated from schemas/ by `npm run schemas`):
# description, day partitioning and clustering from the table file, the schema from NAME.schema.json.
#
# Change data capture (`--bigquery-upserts=cdc`, the Dataflow job's default) needs each table it writes created
# with its primary key (NOT ENFORCED) and a max_staleness, as io/bigquery/bigquery-warehouse.ts creates it
# (`primaryKey()` of io/bigquery/cdc.ts, `CDC_MAX_STALENESS`); the job refuses an existing table without the key.
# The generated files do not carry the keys yet: they are each table's `key` in schemas/tables.ts, repeated below
# and checked equal by test/deploy/terraform.test.ts. A NAME.table.json that carries `tableConstraints` wins.
# write_errors is appended with insertAll, not CDC: no key.

locals {
  cdc_primary_keys = {
    bronze_messages    = ["message_id", "publish_time"]
    silver_events      = ["tenant_id", "event_id"]
    gold_sessions      = ["session_id"]
    gold_tenant_hourly = ["tenant_id", "hour_start"]
    silver_orders      = ["tenant_id", "event_id"]
    silver_inventory   = ["tenant_id", "event_id"]
    silver_activity    = ["tenant_id", "event_id"]
  }
  non_cdc_tables    = toset(["write_errors"])
  cdc_max_staleness = "0-0 0 0:15:0"

  table_files = {
    for f in fileset(var.bigquery_dir, "*.table.json") : trimsuffix(f, ".table.json") => {
      table  = jsondecode(file("${var.bigquery_dir}/${f}"))
      schema = jsondecode(file("${var.bigquery_dir}/${trimsuffix(f, ".table.json")}.schema.json"))
    }
  }

  tables = {
    for name, f in local.table_files : name => {
      table_id    = name
      description = f.table.description
      # The schema file itself (what `bq mk --schema` takes), re-encoded: the provider compares it as JSON.
      schema = jsonencode(f.schema)
      time_partitioning = can(f.table.timePartitioning) ? {
        type  = f.table.timePartitioning.type
        field = try(f.table.timePartitioning.field, null)
      } : null
      clustering    = try(f.table.clustering.fields, null)
      primary_key   = try(f.table.tableConstraints.primaryKey.columns, lookup(local.cdc_primary_keys, name, null))
      max_staleness = contains(local.non_cdc_tables, name) ? null : local.cdc_max_staleness
    }
  }

  bigquery_problems = concat(
    [
      for name, t in local.tables : "table ${name}: no primary key for change data capture (cdc_primary_keys)"
      if t.primary_key == null && !contains(local.non_cdc_tables, name)
    ],
    [
      for name, f in local.table_files : "table ${name}: ${name}.schema.json differs from ${name}.table.json's schema (npm run schemas)"
      if jsonencode(f.schema) != jsonencode(f.table.schema.fields)
    ],
  )
}
