module "environment" {
  source = "./modules/environment"

  project            = var.project
  region             = var.region
  environment        = var.environment
  topology_file      = "${path.module}/../pubsub/topology.json"
  bigquery_dir       = "${path.module}/../bigquery"
  monitoring_dir     = "${path.module}/../monitoring"
  pubsub_prefix      = var.pubsub_prefix
  dataset            = var.dataset
  bucket             = var.bucket
  image_repository   = var.image_repository
  image_tag          = var.image_tag
  job_name           = var.job_name
  tenant_mode        = var.tenant_mode
  input_subscription = var.input_subscription
  insights_topic     = var.insights_topic
  dead_letter_topic  = var.dead_letter_topic
  bigquery_upserts   = var.bigquery_upserts
  max_workers        = var.max_workers
}

# A deploy file that Google Cloud or the job would refuse stops the plan, naming every entry at fault.
resource "terraform_data" "deploy_files" {
  input = module.environment.problems
  lifecycle {
    precondition {
      condition     = length(module.environment.problems) == 0
      error_message = "The deploy files declare what would be refused: ${join("; ", module.environment.problems)}."
    }
  }
}

data "google_project" "this" {
  project_id = var.project
}

locals {
  labels = { app = "tidemark", environment = var.environment }
  names  = module.environment.names

  services = toset([
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "bigquerystorage.googleapis.com",
    "compute.googleapis.com",
    "dataflow.googleapis.com",
    "iam.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "storage.googleapis.com",
  ])
}

resource "google_project_service" "service" {
  for_each           = var.enable_apis ? local.services : toset([])
  project            = var.project
  service            = each.value
  disable_on_destroy = false
}
