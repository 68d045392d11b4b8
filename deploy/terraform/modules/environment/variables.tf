# An environment as data: everything the root module creates, derived from the repository's deploy files and a few
# names, with no provider and no resource, so that test/deploy/terraform.test.ts can evaluate it offline
# (`terraform console`). The root module (deploy/terraform/) turns these outputs into Google Cloud resources.

terraform {
  required_version = ">= 1.5.0"
}

variable "project" {
  description = "The Google Cloud project id."
  type        = string
}

variable "region" {
  description = "The region of the Dataflow job, the bucket, the dataset and the image repository."
  type        = string
}

variable "environment" {
  description = "The environment's name (dev, prod, ...): part of every resource name."
  type        = string
  validation {
    # Service account ids are 6 to 30 characters: "tidemark-worker-" leaves 14.
    condition     = can(regex("^[a-z][a-z0-9-]{0,12}[a-z0-9]$", var.environment))
    error_message = "environment: 1 to 14 lowercase letters, digits and dashes, starting with a letter, not ending with a dash."
  }
}

variable "topology_file" {
  description = "The Pub/Sub topology (deploy/pubsub/topology.json), read as `npm run provision` reads it."
  type        = string
}

variable "bigquery_dir" {
  description = "The folder of the generated BigQuery files (deploy/bigquery: NAME.table.json and NAME.schema.json)."
  type        = string
}

variable "monitoring_dir" {
  description = "The folder of the alert policies, one NAME.alert.json each (deploy/monitoring); it may not exist."
  type        = string
}

variable "pubsub_prefix" {
  description = "The prefix of every topic and subscription name (as provision's --prefix); null: tidemark-ENVIRONMENT-."
  type        = string
  default     = null
}

variable "dataset" {
  description = "The BigQuery dataset; null: tidemark_ENVIRONMENT."
  type        = string
  default     = null
}

variable "bucket" {
  description = "The GCS bucket for temp files, staging and archives; null: PROJECT-tidemark-ENVIRONMENT."
  type        = string
  default     = null
}

variable "image_repository" {
  description = "The Artifact Registry repository of the worker image (deploy/container/cloudbuild.yaml pushes to tidemark)."
  type        = string
  default     = "tidemark"
}

variable "image_tag" {
  description = "The worker image's tag."
  type        = string
  default     = "latest"
}

variable "job_name" {
  description = "The Dataflow job's name (--job-name); null: user-sessions-ENVIRONMENT."
  type        = string
  default     = null
}

variable "tenant_mode" {
  description = "Who reads the topics with tenantWorkers (tenant-topology.ts's TenantMode): shared (the Dataflow job on input_subscription; no tenant's worker or catch-all is made), per_tenant (a worker per tenant and the catch-all, read outside Dataflow; not the sharedSubscription, and no Dataflow job) or both (while moving from one to the other)."
  type        = string
  default     = "shared"
  validation {
    condition     = contains(["shared", "per_tenant", "both"], var.tenant_mode)
    error_message = "tenant_mode: shared, per_tenant or both."
  }
}

variable "input_subscription" {
  description = "The subscription the job reads (--input), by its name in the topology; not a tenant's worker subscription or the catch-all (their readers run outside Dataflow for now). Unused with tenant_mode per_tenant (no Dataflow job)."
  type        = string
  default     = "medallion"
}

variable "insights_topic" {
  description = "The topic of Gold's session changes (--insights-topic), by its name in the topology; null: none."
  type        = string
  default     = "session-insights"
}

variable "dead_letter_topic" {
  description = "The topic of invalid messages (--dead-letter-topic), by its name in the topology; null: none."
  type        = string
  default     = "invalid-events"
}

variable "bigquery_upserts" {
  description = "The job's --bigquery-upserts: cdc (Dataflow's default: no BigQuery job runs) or transaction (DML jobs)."
  type        = string
  default     = "cdc"
  validation {
    condition     = contains(["cdc", "transaction"], var.bigquery_upserts)
    error_message = "bigquery_upserts: cdc or transaction."
  }
}

variable "max_workers" {
  description = "The job's --max-workers; null: Dataflow's default."
  type        = number
  default     = null
}
