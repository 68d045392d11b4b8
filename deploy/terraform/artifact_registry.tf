# The worker image's repository (deploy/container/: `gcloud builds submit --config deploy/container/cloudbuild.yaml`
# pushes REGION-docker.pkg.dev/PROJECT/tidemark/worker:TAG).

resource "google_artifact_registry_repository" "images" {
  project       = var.project
  location      = var.region
  repository_id = local.names.image_repository
  format        = "DOCKER"
  description   = "Tidemark's Dataflow worker image (deploy/container)."
  labels        = local.labels

  depends_on = [google_project_service.service]
}
