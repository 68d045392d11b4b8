# The environment's names, the roles each principal is granted, and the pipeline's command line built from them.

locals {
  env_underscored = replace(var.environment, "-", "_")
  dataset         = var.dataset != null ? var.dataset : "tidemark_${local.env_underscored}"
  bucket          = var.bucket != null ? var.bucket : "${var.project}-tidemark-${var.environment}"
  job_name        = var.job_name != null ? var.job_name : "user-sessions-${var.environment}"

  worker_account_id    = "tidemark-worker-${var.environment}"
  submitter_account_id = "tidemark-submit-${var.environment}"
  worker_email         = "${local.worker_account_id}@${var.project}.iam.gserviceaccount.com"
  submitter_email      = "${local.submitter_account_id}@${var.project}.iam.gserviceaccount.com"

  # deploy/container/cloudbuild.yaml pushes REGION-docker.pkg.dev/PROJECT/tidemark/worker:TAG.
  image            = "${var.region}-docker.pkg.dev/${var.project}/${var.image_repository}/worker:${var.image_tag}"
  temp_location    = "gs://${local.bucket}/tmp"
  staging_location = "gs://${local.bucket}/staging"
  # Dataflow's temp files only: the bucket's lifecycle rule deletes them; the staged pipeline and archives stay.
  temp_prefix = "tmp/"

  # No Dataflow job in per_tenant mode (the tenants' readers run outside Dataflow): no input, no command line.
  dataflow_job = var.tenant_mode != "per_tenant"

  pubsub_url = {
    subscription = local.dataflow_job ? "pubsub://projects/${var.project}/subscriptions/${local.prefix}${var.input_subscription}" : null
    insights     = var.insights_topic == null ? null : "pubsub://projects/${var.project}/topics/${local.prefix}${var.insights_topic}"
    dead_letter  = var.dead_letter_topic == null ? null : "pubsub://projects/${var.project}/topics/${local.prefix}${var.dead_letter_topic}"
  }
}

# The roles, least privilege, as the README's "On Dataflow (production)" lists them. `scope` names the resource kind
# the root module grants on, `target` the topic or subscription (by topology name), `member` the principal:
# worker (the job's workers, --service-account), submitter (whoever runs `npm run pipeline -- --runner=dataflow`:
# a person or CI) or pubsub_agent (Pub/Sub's service agent, which dead-letters).
locals {
  worker_grants = concat(
    [
      { scope = "project", target = null, role = "roles/dataflow.worker" },
      { scope = "bucket", target = null, role = "roles/storage.objectAdmin" },
      { scope = "repository", target = null, role = "roles/artifactregistry.reader" },
      # Change data capture writes on the tables' default streams (bigquery.tables.updateData).
      { scope = "dataset", target = null, role = "roles/bigquery.dataEditor" },
    ],
    # The input subscriptions of the mode (reader_subscriptions: the job's, the tenants' workers and catch-alls, which
    # may run as this account outside Dataflow) and their topics.
    [
      for s in distinct(local.reader_subscriptions) : { scope = "subscription", target = s, role = "roles/pubsub.subscriber" }
      if contains(keys(local.subscriptions), s)
    ],
    [
      for t in distinct([for s in local.reader_subscriptions : local.subscriptions[s].topic if contains(keys(local.subscriptions), s)]) :
      { scope = "topic", target = t, role = "roles/pubsub.viewer" }
    ],
    var.insights_topic == null ? [] : [{ scope = "topic", target = var.insights_topic, role = "roles/pubsub.publisher" }],
    var.dead_letter_topic == null ? [] : [{ scope = "topic", target = var.dead_letter_topic, role = "roles/pubsub.publisher" }],
    # Only --bigquery-upserts=transaction runs BigQuery jobs (a DML transaction per batch); CDC runs none.
    var.bigquery_upserts == "transaction" ? [{ scope = "project", target = null, role = "roles/bigquery.jobUser" }] : [],
  )

  submitter_grants = [
    { scope = "project", target = null, role = "roles/dataflow.developer" },
    { scope = "service_account", target = "worker", role = "roles/iam.serviceAccountUser" },
    { scope = "bucket", target = null, role = "roles/storage.objectAdmin" },
    # The tables are created or evolved by the submission, before the job starts.
    { scope = "dataset", target = null, role = "roles/bigquery.dataEditor" },
  ]

  # Dead-lettering: Pub/Sub's service agent publishes to the dead-letter topic and acknowledges on the source.
  pubsub_agent_grants = concat(
    [for t in sort(tolist(local.dead_letter_topics)) : { scope = "topic", target = t, role = "roles/pubsub.publisher" }],
    [
      for k in sort(keys(local.subscriptions)) : { scope = "subscription", target = k, role = "roles/pubsub.subscriber" }
      if local.subscriptions[k].dead_letter_policy != null
    ],
  )

  grants = {
    for g in concat(
      [for g in local.worker_grants : merge(g, { member = "worker" })],
      [for g in local.submitter_grants : merge(g, { member = "submitter" })],
      [for g in local.pubsub_agent_grants : merge(g, { member = "pubsub_agent" })],
    ) : join(" ", [for part in [g.member, g.scope, g.target, g.role] : part if part != null]) => g
  }
}

# The command line that runs the job in this environment (pipelines/user-sessions/job-options.ts and
# runners/dataflow/options.ts name the flags), in order; a null value leaves its flag out.
locals {
  pipeline_flags = [
    ["runner", "dataflow"],
    ["project", var.project],
    ["region", var.region],
    ["job-name", local.job_name],
    ["temp-location", local.temp_location],
    ["staging-location", local.staging_location],
    ["sdk-container-image", local.image],
    ["service-account", local.worker_email],
    ["input", local.pubsub_url.subscription],
    ["warehouse", "bigquery://${var.project}/${local.dataset}"],
    ["insights-topic", local.pubsub_url.insights],
    ["dead-letter-topic", local.pubsub_url.dead_letter],
    ["bigquery-upserts", var.bigquery_upserts],
    ["max-workers", var.max_workers == null ? null : tostring(var.max_workers)],
    ["labels", "environment=${var.environment}"],
  ]
  pipeline_args    = [for f in local.pipeline_flags : "--${f[0]}=${f[1]}" if f[1] != null]
  pipeline_command = local.dataflow_job ? join(" ", concat(["npm", "run", "pipeline", "--"], local.pipeline_args)) : null
}
