# The job's workers run as `worker` (--service-account); `submitter` submits, updates, drains and cancels the job
# (CI, or a person through var.submitters). Their roles are in iam.tf.

resource "google_service_account" "worker" {
  project      = var.project
  account_id   = local.names.worker_account_id
  display_name = "Tidemark Dataflow workers (${var.environment})"
  description  = "The user-sessions job's workers: read the input subscription, publish the feeds, write BigQuery."

  depends_on = [google_project_service.service]
}

resource "google_service_account" "submitter" {
  project      = var.project
  account_id   = local.names.submitter_account_id
  display_name = "Tidemark job submitter (${var.environment})"
  description  = "Submits, updates, drains and cancels the user-sessions job (npm run pipeline -- --runner=dataflow)."

  depends_on = [google_project_service.service]
}
