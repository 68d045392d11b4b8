output "problems" {
  description = "What the deploy files or the names declare that Google Cloud or the job would refuse, each naming the entry; empty when all is well (the root module refuses to plan otherwise)."
  value       = concat(local.pubsub_problems, local.bigquery_problems, local.alert_problems)
}

output "prefix" {
  description = "The prefix of every topic and subscription name."
  value       = local.prefix
}

output "topics" {
  description = "Topics by their topology name: the full name and the message retention (null: not kept)."
  value       = local.topics
}

output "subscriptions" {
  description = "Subscriptions by their topology name, in the provider's arguments; topic and dead-letter topic by topology name."
  value       = local.subscriptions
}

output "dead_letter_topics" {
  description = "Topology names of the topics some subscription dead-letters to."
  value       = local.dead_letter_topics
}

output "tables" {
  description = "BigQuery tables by name: description, schema (JSON), partitioning, clustering, primary key, max_staleness."
  value       = local.tables
}

output "alert_policies" {
  description = "Alert policies by file name (NAME.alert.json), in the provider's arguments."
  value       = local.alert_policies
}

output "names" {
  description = "The environment's resource names."
  value = {
    dataset              = local.dataset
    bucket               = local.bucket
    temp_prefix          = local.temp_prefix
    image_repository     = var.image_repository
    image                = local.image
    worker_account_id    = local.worker_account_id
    worker_email         = local.worker_email
    submitter_account_id = local.submitter_account_id
    submitter_email      = local.submitter_email
    job_name             = local.job_name
  }
}

output "grants" {
  description = "Every IAM grant, keyed: member (worker, submitter, pubsub_agent), scope (project, bucket, dataset, repository, topic, subscription, service_account), target (topology name), role."
  value       = local.grants
}

output "pipeline_flags" {
  description = "The job's flags, name to value (null: left out)."
  value       = { for f in local.pipeline_flags : f[0] => f[1] }
}

output "pipeline_command" {
  description = "The command line that submits the job in this environment."
  value       = local.pipeline_command
}
