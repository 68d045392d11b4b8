variable "project" {
  description = "The Google Cloud project id (--project)."
  type        = string
}

variable "region" {
  description = "The region of the job (--region), the bucket, the image repository and, by default, the dataset."
  type        = string
  default     = "europe-west1"
}

variable "environment" {
  description = "The environment's name (dev, staging, prod): every resource name carries it."
  type        = string
}

variable "dataset" {
  description = "The BigQuery dataset (--warehouse=bigquery://PROJECT/DATASET); null: tidemark_ENVIRONMENT."
  type        = string
  default     = null
}

variable "bigquery_location" {
  description = "The dataset's location (a region, or EU / US); null: the region."
  type        = string
  default     = null
}

variable "bucket" {
  description = "The GCS bucket for Dataflow's temp files (tmp/), the staged pipeline (staging/) and archives; null: PROJECT-tidemark-ENVIRONMENT."
  type        = string
  default     = null
}

variable "temp_retention_days" {
  description = "Days after which the bucket deletes Dataflow's temp files (under tmp/)."
  type        = number
  default     = 7
}

variable "pubsub_prefix" {
  description = "The prefix of every topic and subscription name (as `npm run provision -- --prefix=...`); null: tidemark-ENVIRONMENT-."
  type        = string
  default     = null
}

variable "image_repository" {
  description = "The Artifact Registry Docker repository of the worker image (deploy/container/cloudbuild.yaml pushes to tidemark)."
  type        = string
  default     = "tidemark"
}

variable "image_tag" {
  description = "The worker image's tag in --sdk-container-image."
  type        = string
  default     = "latest"
}

variable "job_name" {
  description = "The Dataflow job's name (--job-name); null: user-sessions-ENVIRONMENT."
  type        = string
  default     = null
}

variable "tenant_mode" {
  description = "Who reads the topics with tenantWorkers in deploy/pubsub/topology.json: shared (the Dataflow job alone on input_subscription: no tenant's worker or catch-all subscription is made), per_tenant (a worker per tenant and the catch-all, their readers run outside Dataflow: no medallion subscription and no Dataflow job) or both (while moving from one to the other, so that each old reader reads its subscription empty)."
  type        = string
  default     = "shared"
}

variable "input_subscription" {
  description = "The subscription the job reads (--input), by its name in deploy/pubsub/topology.json; not a tenant's worker subscription or the catch-all (their readers run outside Dataflow for now)."
  type        = string
  default     = "medallion"
}

variable "insights_topic" {
  description = "The feed of Gold's session changes (--insights-topic), by its topology name; null: no feed."
  type        = string
  default     = "session-insights"
}

variable "dead_letter_topic" {
  description = "The feed of invalid messages (--dead-letter-topic), by its topology name; null: no feed."
  type        = string
  default     = "invalid-events"
}

variable "bigquery_upserts" {
  description = "The job's --bigquery-upserts: cdc (Dataflow's default) or transaction (then the workers may run BigQuery jobs)."
  type        = string
  default     = "cdc"
}

variable "max_workers" {
  description = "The job's --max-workers; null: Dataflow's default."
  type        = number
  default     = null
}

variable "submitters" {
  description = "Principals besides the submitter service account who submit, update, drain and cancel the job (e.g. group:data-eng@example.com): they get the submitter's roles."
  type        = list(string)
  default     = []
}

variable "notification_channels" {
  description = "Notification channels (projects/P/notificationChannels/ID) added to every alert policy."
  type        = list(string)
  default     = []
}

variable "enable_apis" {
  description = "Enable the services the environment uses (left enabled on destroy)."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Refuse to destroy the tables, and keep a non-empty dataset and bucket, on destroy."
  type        = bool
  default     = true
}
