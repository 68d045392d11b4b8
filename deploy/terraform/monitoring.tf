# The alert policies: one google_monitoring_alert_policy per deploy/monitoring/NAME.alert.json (the Cloud Monitoring
# API's AlertPolicy JSON, read by modules/environment/monitoring.tf). With no such file, none is made.

resource "google_monitoring_alert_policy" "alert" {
  for_each = module.environment.alert_policies

  project               = var.project
  display_name          = each.value.display_name
  combiner              = each.value.combiner
  enabled               = each.value.enabled
  severity              = each.value.severity
  user_labels           = merge(local.labels, each.value.user_labels)
  notification_channels = distinct(concat(each.value.notification_channels, var.notification_channels))

  dynamic "documentation" {
    for_each = each.value.documentation == null ? [] : [each.value.documentation]
    content {
      content   = documentation.value.content
      mime_type = documentation.value.mime_type
      subject   = documentation.value.subject
    }
  }

  dynamic "alert_strategy" {
    for_each = each.value.alert_strategy == null ? [] : [each.value.alert_strategy]
    content {
      auto_close = alert_strategy.value.auto_close
      dynamic "notification_rate_limit" {
        for_each = alert_strategy.value.notification_rate_limit == null ? [] : [alert_strategy.value.notification_rate_limit]
        content {
          period = notification_rate_limit.value
        }
      }
      dynamic "notification_channel_strategy" {
        for_each = alert_strategy.value.notification_channel_strategy
        content {
          notification_channel_names = notification_channel_strategy.value.notification_channel_names
          renotify_interval          = notification_channel_strategy.value.renotify_interval
        }
      }
    }
  }

  dynamic "conditions" {
    for_each = each.value.conditions
    content {
      display_name = conditions.value.display_name

      dynamic "condition_threshold" {
        for_each = conditions.value.condition_threshold == null ? [] : [conditions.value.condition_threshold]
        content {
          filter                  = condition_threshold.value.filter
          comparison              = condition_threshold.value.comparison
          threshold_value         = condition_threshold.value.threshold_value
          duration                = condition_threshold.value.duration
          denominator_filter      = condition_threshold.value.denominator_filter
          evaluation_missing_data = condition_threshold.value.evaluation_missing_data
          dynamic "trigger" {
            for_each = condition_threshold.value.trigger == null ? [] : [condition_threshold.value.trigger]
            content {
              count   = trigger.value.count
              percent = trigger.value.percent
            }
          }
          dynamic "aggregations" {
            for_each = condition_threshold.value.aggregations
            content {
              alignment_period     = aggregations.value.alignment_period
              per_series_aligner   = aggregations.value.per_series_aligner
              cross_series_reducer = aggregations.value.cross_series_reducer
              group_by_fields      = aggregations.value.group_by_fields
            }
          }
          dynamic "denominator_aggregations" {
            for_each = condition_threshold.value.denominator_aggregations
            content {
              alignment_period     = denominator_aggregations.value.alignment_period
              per_series_aligner   = denominator_aggregations.value.per_series_aligner
              cross_series_reducer = denominator_aggregations.value.cross_series_reducer
              group_by_fields      = denominator_aggregations.value.group_by_fields
            }
          }
        }
      }

      dynamic "condition_absent" {
        for_each = conditions.value.condition_absent == null ? [] : [conditions.value.condition_absent]
        content {
          filter   = condition_absent.value.filter
          duration = condition_absent.value.duration
          dynamic "trigger" {
            for_each = condition_absent.value.trigger == null ? [] : [condition_absent.value.trigger]
            content {
              count   = trigger.value.count
              percent = trigger.value.percent
            }
          }
          dynamic "aggregations" {
            for_each = condition_absent.value.aggregations
            content {
              alignment_period     = aggregations.value.alignment_period
              per_series_aligner   = aggregations.value.per_series_aligner
              cross_series_reducer = aggregations.value.cross_series_reducer
              group_by_fields      = aggregations.value.group_by_fields
            }
          }
        }
      }

      dynamic "condition_matched_log" {
        for_each = conditions.value.condition_matched_log == null ? [] : [conditions.value.condition_matched_log]
        content {
          filter           = condition_matched_log.value.filter
          label_extractors = condition_matched_log.value.label_extractors
        }
      }

      dynamic "condition_monitoring_query_language" {
        for_each = conditions.value.condition_monitoring_query_language == null ? [] : [conditions.value.condition_monitoring_query_language]
        content {
          query                   = condition_monitoring_query_language.value.query
          duration                = condition_monitoring_query_language.value.duration
          evaluation_missing_data = condition_monitoring_query_language.value.evaluation_missing_data
          dynamic "trigger" {
            for_each = condition_monitoring_query_language.value.trigger == null ? [] : [condition_monitoring_query_language.value.trigger]
            content {
              count   = trigger.value.count
              percent = trigger.value.percent
            }
          }
        }
      }

      dynamic "condition_prometheus_query_language" {
        for_each = conditions.value.condition_prometheus_query_language == null ? [] : [conditions.value.condition_prometheus_query_language]
        content {
          query               = condition_prometheus_query_language.value.query
          duration            = condition_prometheus_query_language.value.duration
          evaluation_interval = condition_prometheus_query_language.value.evaluation_interval
          labels              = condition_prometheus_query_language.value.labels
          rule_group          = condition_prometheus_query_language.value.rule_group
          alert_rule          = condition_prometheus_query_language.value.alert_rule
        }
      }
    }
  }

  depends_on = [google_project_service.service]
}
