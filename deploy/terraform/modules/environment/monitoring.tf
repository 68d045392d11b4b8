# The alert policies: each deploy/monitoring/NAME.alert.json is one AlertPolicy in the Cloud Monitoring API's JSON
# shape (what `gcloud monitoring policies create --policy-from-file` takes), its fields renamed to the provider's
# (camelCase to snake_case). The fields and condition kinds below are supported; any other is named in `problems`.
# Output-only fields (name, creationRecord) are not read.

locals {
  alert_files = fileset(var.monitoring_dir, "*.alert.json")
  alert_json  = { for f in local.alert_files : trimsuffix(f, ".alert.json") => jsondecode(file("${var.monitoring_dir}/${f}")) }

  policy_fields = ["displayName", "combiner", "conditions", "enabled", "severity", "userLabels", "notificationChannels", "documentation", "alertStrategy"]
  # Per condition kind, the fields the API requires.
  condition_required = {
    conditionThreshold               = ["filter", "comparison", "duration"]
    conditionAbsent                  = ["filter", "duration"]
    conditionMatchedLog              = ["filter"]
    conditionMonitoringQueryLanguage = ["query", "duration"]
    conditionPrometheusQueryLanguage = ["query"]
  }
  condition_fields = ["displayName", "conditionThreshold", "conditionAbsent", "conditionMatchedLog", "conditionMonitoringQueryLanguage", "conditionPrometheusQueryLanguage"]

  # A policy's subscription_id = monitoring.regex.full_match("...") (the files': the shipped topology's input
  # subscriptions under any tidemark-ENV- prefix) becomes this environment's input subscriptions, by their full names
  # (pubsub.tf's reader_subscriptions, in its tenant mode): nothing else of the project, and no input it does not make.
  # Names are letters, digits and -_.~+%: a dot and a plus are made literal as [.] and [+].
  subscription_match = "/resource\\.label\\.subscription_id = monitoring\\.regex\\.full_match\\(\"(?:[^\"\\\\]|\\\\.)*\"\\)/"
  input_subscription_match = format(
    "resource.label.subscription_id = monitoring.regex.full_match(\"(%s)\")",
    join("|", [for s in sort(distinct(local.reader_subscriptions)) : replace("${local.prefix}${s}", "/([.+])/", "[$1]")]),
  )

  alert_policies = {
    for name, p in local.alert_json : name => {
      display_name          = try(p.displayName, null)
      combiner              = try(p.combiner, "OR")
      enabled               = try(p.enabled, true)
      severity              = try(p.severity, null)
      user_labels           = try(p.userLabels, {})
      notification_channels = try(p.notificationChannels, [])
      documentation = can(p.documentation) ? {
        content   = try(p.documentation.content, null)
        mime_type = try(p.documentation.mimeType, "text/markdown")
        subject   = try(p.documentation.subject, null)
      } : null
      alert_strategy = can(p.alertStrategy) ? {
        auto_close              = try(p.alertStrategy.autoClose, null)
        notification_rate_limit = try(p.alertStrategy.notificationRateLimit.period, null)
        notification_channel_strategy = [for s in try(p.alertStrategy.notificationChannelStrategy, []) : {
          notification_channel_names = try(s.notificationChannelNames, null)
          renotify_interval          = try(s.renotifyInterval, null)
        }]
      } : null
      conditions = [for c in try(p.conditions, []) : {
        display_name = try(c.displayName, null)
        condition_threshold = can(c.conditionThreshold) ? {
          filter                  = try(replace(c.conditionThreshold.filter, local.subscription_match, local.input_subscription_match), null)
          comparison              = try(c.conditionThreshold.comparison, null)
          threshold_value         = try(c.conditionThreshold.thresholdValue, null)
          duration                = try(c.conditionThreshold.duration, null)
          denominator_filter      = try(c.conditionThreshold.denominatorFilter, null)
          evaluation_missing_data = try(c.conditionThreshold.evaluationMissingData, null)
          trigger                 = can(c.conditionThreshold.trigger) ? { count = try(c.conditionThreshold.trigger.count, null), percent = try(c.conditionThreshold.trigger.percent, null) } : null
          aggregations = [for a in try(c.conditionThreshold.aggregations, []) : {
            alignment_period     = try(a.alignmentPeriod, null)
            per_series_aligner   = try(a.perSeriesAligner, null)
            cross_series_reducer = try(a.crossSeriesReducer, null)
            group_by_fields      = try(a.groupByFields, null)
          }]
          denominator_aggregations = [for a in try(c.conditionThreshold.denominatorAggregations, []) : {
            alignment_period     = try(a.alignmentPeriod, null)
            per_series_aligner   = try(a.perSeriesAligner, null)
            cross_series_reducer = try(a.crossSeriesReducer, null)
            group_by_fields      = try(a.groupByFields, null)
          }]
        } : null
        condition_absent = can(c.conditionAbsent) ? {
          filter   = try(c.conditionAbsent.filter, null)
          duration = try(c.conditionAbsent.duration, null)
          trigger  = can(c.conditionAbsent.trigger) ? { count = try(c.conditionAbsent.trigger.count, null), percent = try(c.conditionAbsent.trigger.percent, null) } : null
          aggregations = [for a in try(c.conditionAbsent.aggregations, []) : {
            alignment_period     = try(a.alignmentPeriod, null)
            per_series_aligner   = try(a.perSeriesAligner, null)
            cross_series_reducer = try(a.crossSeriesReducer, null)
            group_by_fields      = try(a.groupByFields, null)
          }]
        } : null
        condition_matched_log = can(c.conditionMatchedLog) ? {
          filter           = try(c.conditionMatchedLog.filter, null)
          label_extractors = try(c.conditionMatchedLog.labelExtractors, null)
        } : null
        condition_monitoring_query_language = can(c.conditionMonitoringQueryLanguage) ? {
          query                   = try(c.conditionMonitoringQueryLanguage.query, null)
          duration                = try(c.conditionMonitoringQueryLanguage.duration, null)
          evaluation_missing_data = try(c.conditionMonitoringQueryLanguage.evaluationMissingData, null)
          trigger                 = can(c.conditionMonitoringQueryLanguage.trigger) ? { count = try(c.conditionMonitoringQueryLanguage.trigger.count, null), percent = try(c.conditionMonitoringQueryLanguage.trigger.percent, null) } : null
        } : null
        condition_prometheus_query_language = can(c.conditionPrometheusQueryLanguage) ? {
          query               = try(c.conditionPrometheusQueryLanguage.query, null)
          duration            = try(c.conditionPrometheusQueryLanguage.duration, null)
          evaluation_interval = try(c.conditionPrometheusQueryLanguage.evaluationInterval, null)
          labels              = try(c.conditionPrometheusQueryLanguage.labels, null)
          rule_group          = try(c.conditionPrometheusQueryLanguage.ruleGroup, null)
          alert_rule          = try(c.conditionPrometheusQueryLanguage.alertRule, null)
        } : null
      }]
    }
  }

  alert_problems = flatten([
    for name, p in local.alert_json : concat(
      [for k in keys(p) : "alert ${name}: field ${k} is not supported (one of ${join(", ", local.policy_fields)})" if !contains(local.policy_fields, k)],
      can(p.displayName) ? [] : ["alert ${name}: displayName is required"],
      length(try(p.conditions, [])) > 0 ? [] : ["alert ${name}: conditions are required"],
      flatten([
        for i, c in try(p.conditions, []) : concat(
          [for k in keys(c) : "alert ${name}: conditions[${i}].${k} is not supported (one of ${join(", ", local.condition_fields)})" if !contains(local.condition_fields, k)],
          length([for k in keys(c) : k if k != "displayName" && contains(local.condition_fields, k)]) == 1 ? [] : [
            "alert ${name}: conditions[${i}] needs exactly one condition kind"
          ],
          can(c.displayName) ? [] : ["alert ${name}: conditions[${i}].displayName is required"],
          flatten([
            for kind, required in local.condition_required : [
              for f in required : "alert ${name}: conditions[${i}].${kind}.${f} is required" if can(c[kind]) && !can(c[kind][f])
            ]
          ]),
        )
      ]),
    )
  ])
}
