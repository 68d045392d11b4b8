# The warehouse: the dataset of --warehouse=bigquery://PROJECT/DATASET and its tables from deploy/bigquery/, created
# for change data capture (primary key NOT ENFORCED, max_staleness) as the job would create them
# (modules/environment/bigquery.tf). The job's submission then finds them and changes nothing.

resource "google_bigquery_dataset" "warehouse" {
  project                    = var.project
  dataset_id                 = local.names.dataset
  location                   = coalesce(var.bigquery_location, var.region)
  description                = "Tidemark's medallion (Bronze, Silver, Gold), ${var.environment}."
  labels                     = local.labels
  delete_contents_on_destroy = !var.deletion_protection

  depends_on = [google_project_service.service]
}

resource "google_bigquery_table" "table" {
  for_each = module.environment.tables

  project             = var.project
  dataset_id          = google_bigquery_dataset.warehouse.dataset_id
  table_id            = each.value.table_id
  description         = each.value.description
  schema              = each.value.schema
  clustering          = each.value.clustering
  max_staleness       = each.value.max_staleness
  deletion_protection = var.deletion_protection
  labels              = local.labels

  dynamic "time_partitioning" {
    for_each = each.value.time_partitioning == null ? [] : [each.value.time_partitioning]
    content {
      type  = time_partitioning.value.type
      field = time_partitioning.value.field
    }
  }

  dynamic "table_constraints" {
    for_each = each.value.primary_key == null ? [] : [each.value.primary_key]
    content {
      primary_key {
        columns = table_constraints.value
      }
    }
  }
}
