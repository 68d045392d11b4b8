# Tidemark's medallion tables in Looker: the Gold tables the user-sessions pipeline writes to BigQuery
# (schemas/tables.ts is their single source of truth; test/deploy/consumers.test.ts checks the views against it).
connection: "tidemark_bigquery"

include: "*.view.lkml"

# The pipeline upserts Gold continuously: a new updated_at means new results.
datagroup: tidemark_gold {
  sql_trigger: SELECT MAX(updated_at) FROM `@{dataset}.gold_sessions` ;;
  max_cache_age: "1 hour"
}

persist_with: tidemark_gold

explore: sessions {
  view_name: gold_sessions
  label: "Sessions"
  description: "One row per current session (gap-based session windows per tenant and user). Joining platforms counts a session once under each platform it was seen on."

  # gold_sessions is partitioned by session_start: keep scans to recent partitions unless one session or user is asked for.
  conditionally_filter: {
    filters: [gold_sessions.session_start_date: "30 days"]
    unless: [gold_sessions.session_id, gold_sessions.user_id]
  }

  join: gold_sessions__platforms {
    view_label: "Sessions"
    sql: LEFT JOIN UNNEST(${gold_sessions.platforms}) AS gold_sessions__platforms ;;
    relationship: one_to_many
  }
}

explore: tenant_hourly {
  view_name: gold_tenant_hourly
  label: "Tenant Hourly"
  description: "Per tenant and hour of event time: events, active users, sessions started, revenue and the funnel."

  conditionally_filter: {
    filters: [gold_tenant_hourly.hour_start_date: "7 days"]
    unless: [gold_tenant_hourly.tenant_id]
  }
}
