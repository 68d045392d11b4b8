# Topics and subscriptions of deploy/pubsub/topology.json, named with the environment's prefix, each property as
# `npm run provision` sets it (modules/environment/pubsub.tf).

resource "google_pubsub_topic" "topic" {
  for_each = module.environment.topics

  project                    = var.project
  name                       = each.value.name
  message_retention_duration = each.value.message_retention_duration
  labels                     = local.labels

  depends_on = [google_project_service.service]
}

resource "google_pubsub_subscription" "subscription" {
  for_each = module.environment.subscriptions

  project                    = var.project
  name                       = each.value.name
  topic                      = google_pubsub_topic.topic[each.value.topic].id
  ack_deadline_seconds       = each.value.ack_deadline_seconds
  message_retention_duration = each.value.message_retention_duration
  enable_message_ordering    = each.value.enable_message_ordering
  filter                     = each.value.filter
  labels                     = local.labels

  dynamic "retry_policy" {
    for_each = each.value.retry_policy == null ? [] : [each.value.retry_policy]
    content {
      minimum_backoff = retry_policy.value.minimum_backoff
      maximum_backoff = retry_policy.value.maximum_backoff
    }
  }

  dynamic "dead_letter_policy" {
    for_each = each.value.dead_letter_policy == null ? [] : [each.value.dead_letter_policy]
    content {
      dead_letter_topic     = google_pubsub_topic.topic[dead_letter_policy.value.topic].id
      max_delivery_attempts = dead_letter_policy.value.max_delivery_attempts
    }
  }
}
