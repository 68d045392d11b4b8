# The roles of modules/environment/names.tf (the README's least-privilege list), each granted on its resource:
# `worker` is the workers' service account, `submitter` the submitter service account and var.submitters,
# `pubsub_agent` Pub/Sub's service agent (dead-lettering: publisher on the dead-letter topic, subscriber on the
# subscription it dead-letters from).

locals {
  member = merge(
    {
      worker       = "serviceAccount:${google_service_account.worker.email}"
      submitter    = "serviceAccount:${google_service_account.submitter.email}"
      pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
    },
    { for s in var.submitters : s => s },
  )
  # Who holds each grant; keys stay known at plan time (an email is only known once its account exists).
  holders = { worker = ["worker"], submitter = concat(["submitter"], var.submitters), pubsub_agent = ["pubsub_agent"] }

  bindings = merge([
    for key, g in module.environment.grants : {
      for who in local.holders[g.member] : (who == g.member ? key : "${key} ${who}") => merge(g, { holder = who })
    }
  ]...)
  bindings_on = {
    for scope in ["project", "bucket", "dataset", "repository", "topic", "subscription", "service_account"] :
    scope => { for k, b in local.bindings : k => b if b.scope == scope }
  }
}

resource "google_project_iam_member" "grant" {
  for_each = local.bindings_on.project
  project  = var.project
  role     = each.value.role
  member   = local.member[each.value.holder]
}

resource "google_storage_bucket_iam_member" "grant" {
  for_each = local.bindings_on.bucket
  bucket   = google_storage_bucket.job.name
  role     = each.value.role
  member   = local.member[each.value.holder]
}

resource "google_bigquery_dataset_iam_member" "grant" {
  for_each   = local.bindings_on.dataset
  project    = var.project
  dataset_id = google_bigquery_dataset.warehouse.dataset_id
  role       = each.value.role
  member     = local.member[each.value.holder]
}

resource "google_artifact_registry_repository_iam_member" "grant" {
  for_each   = local.bindings_on.repository
  project    = var.project
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = each.value.role
  member     = local.member[each.value.holder]
}

resource "google_pubsub_topic_iam_member" "grant" {
  for_each = local.bindings_on.topic
  project  = var.project
  topic    = google_pubsub_topic.topic[each.value.target].name
  role     = each.value.role
  member   = local.member[each.value.holder]
}

resource "google_pubsub_subscription_iam_member" "grant" {
  for_each     = local.bindings_on.subscription
  project      = var.project
  subscription = google_pubsub_subscription.subscription[each.value.target].name
  role         = each.value.role
  member       = local.member[each.value.holder]
}

resource "google_service_account_iam_member" "grant" {
  for_each           = local.bindings_on.service_account
  service_account_id = google_service_account.worker.name
  role               = each.value.role
  member             = local.member[each.value.holder]
}
