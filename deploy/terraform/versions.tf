# One environment of the production pipeline (README, "Infrastructure (Terraform)"): Pub/Sub, BigQuery, the bucket,
# the image repository, the service accounts and their roles, and the alert policies. The deploy files are the
# source of truth; modules/environment reads them, this folder creates what it describes.
#
# State: add a `backend "gcs" { bucket = "..." prefix = "tidemark/ENVIRONMENT" }` block here (or pass
# -backend-config) for a shared environment; without one the state is the local terraform.tfstate.

terraform {
  required_version = ">= 1.5.0"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
    }
  }
}

provider "google" {
  project = var.project
  region  = var.region
}
