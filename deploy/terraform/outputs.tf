# What the job's command line needs (flag names of pipelines/user-sessions/job-options.ts and
# runners/dataflow/options.ts), and the whole command.

output "project" {
  description = "--project"
  value       = var.project
}

output "region" {
  description = "--region"
  value       = var.region
}

output "subscription" {
  description = "The input subscription's path (projects/P/subscriptions/S); null with tenant_mode per_tenant (no Dataflow job)."
  value       = var.tenant_mode == "per_tenant" ? null : google_pubsub_subscription.subscription[var.input_subscription].id
}

output "input" {
  description = "--input"
  value       = module.environment.pipeline_flags["input"]
}

output "insights_topic" {
  description = "--insights-topic (null: no feed)"
  value       = module.environment.pipeline_flags["insights-topic"]
}

output "dead_letter_topic" {
  description = "--dead-letter-topic (null: no feed)"
  value       = module.environment.pipeline_flags["dead-letter-topic"]
}

output "dataset" {
  description = "The BigQuery dataset."
  value       = google_bigquery_dataset.warehouse.dataset_id
}

output "warehouse" {
  description = "--warehouse"
  value       = "bigquery://${var.project}/${google_bigquery_dataset.warehouse.dataset_id}"
}

output "bucket" {
  description = "The job's bucket."
  value       = google_storage_bucket.job.name
}

output "temp_location" {
  description = "--temp-location (its files deleted after temp_retention_days)"
  value       = module.environment.pipeline_flags["temp-location"]
}

output "staging_location" {
  description = "--staging-location"
  value       = module.environment.pipeline_flags["staging-location"]
}

output "image_repository" {
  description = "The worker image's repository (REGION-docker.pkg.dev/PROJECT/REPOSITORY)."
  value       = "${google_artifact_registry_repository.images.location}-docker.pkg.dev/${var.project}/${google_artifact_registry_repository.images.repository_id}"
}

output "sdk_container_image" {
  description = "--sdk-container-image"
  value       = module.environment.pipeline_flags["sdk-container-image"]
}

output "worker_service_account" {
  description = "--service-account: the workers' service account."
  value       = google_service_account.worker.email
}

output "submitter_service_account" {
  description = "The service account that submits the job (for CI: impersonate it or use its key)."
  value       = google_service_account.submitter.email
}

output "pipeline_command" {
  description = "The command that submits the job in this environment (add --update to replace a running one); null with tenant_mode per_tenant."
  value       = module.environment.pipeline_command
}
