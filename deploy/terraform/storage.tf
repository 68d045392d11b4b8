# The job's bucket: Dataflow's temp files under tmp/ (--temp-location, deleted after temp_retention_days), the staged
# pipeline under staging/ (--staging-location) and archives beside them (kept).

resource "google_storage_bucket" "job" {
  project                     = var.project
  name                        = local.names.bucket
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection
  labels                      = local.labels

  lifecycle_rule {
    condition {
      age            = var.temp_retention_days
      matches_prefix = [local.names.temp_prefix]
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.service]
}
