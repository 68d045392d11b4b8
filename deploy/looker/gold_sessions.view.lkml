# gold_sessions: one row per current session (schemas/tables.ts GOLD_SESSIONS). A later pane of a session replaces
# its row; sessions merged away by late data are deleted. Every column is a dimension of the same name.
view: gold_sessions {
  sql_table_name: `@{dataset}.gold_sessions` ;;

  # --- keys

  dimension: session_id {
    primary_key: yes
    type: string
    description: "Stable id: hash of tenant, user and session start."
    sql: ${TABLE}.session_id ;;
  }

  dimension: tenant_id {
    type: string
    description: "The tenant."
    sql: ${TABLE}.tenant_id ;;
  }

  dimension: user_id {
    type: string
    description: "The user."
    sql: ${TABLE}.user_id ;;
  }

  # --- time

  dimension_group: session_start {
    type: time
    timeframes: [raw, time, minute15, hour, hour_of_day, date, day_of_week, week, month]
    description: "Event time of the session's first event (UTC)."
    sql: ${TABLE}.session_start ;;
  }

  dimension_group: session_end {
    type: time
    timeframes: [raw, time, hour, date]
    description: "Event time of the last event plus the session gap (the window's end)."
    sql: ${TABLE}.session_end ;;
  }

  dimension: duration_ms {
    type: number
    description: "Last event time minus first event time, in milliseconds."
    sql: ${TABLE}.duration_ms ;;
  }

  dimension: duration_seconds {
    type: number
    description: "The session's duration in seconds."
    value_format_name: decimal_1
    sql: ${duration_ms} / 1000.0 ;;
  }

  dimension: duration_tier {
    type: tier
    tiers: [0, 60, 300, 900, 1800, 3600]
    style: integer
    description: "The duration in seconds, in bands."
    sql: ${duration_seconds} ;;
  }

  # --- activity

  dimension: event_count {
    type: number
    description: "Events in the session."
    sql: ${TABLE}.event_count ;;
  }

  dimension: page_views {
    type: number
    description: "page_view events."
    sql: ${TABLE}.page_views ;;
  }

  dimension: clicks {
    type: number
    description: "button_click events."
    sql: ${TABLE}.clicks ;;
  }

  dimension: purchases {
    type: number
    description: "purchase events."
    sql: ${TABLE}.purchases ;;
  }

  dimension: revenue {
    type: number
    description: "Sum of the session's purchase amounts."
    value_format_name: decimal_2
    sql: ${TABLE}.revenue ;;
  }

  dimension: entry_page {
    type: string
    description: "The page of the first event that has one."
    sql: ${TABLE}.entry_page ;;
  }

  dimension: exit_page {
    type: string
    description: "The page of the last event that has one."
    sql: ${TABLE}.exit_page ;;
  }

  # --- platforms (REPEATED STRING): group by platform through the explore's gold_sessions__platforms join

  dimension: platforms {
    hidden: yes
    description: "Platforms seen in the session (an array, sorted): used by the UNNEST join."
    sql: ${TABLE}.platforms ;;
  }

  dimension: platform_list {
    type: string
    description: "The session's platforms, comma separated (one value per session, unlike Platform)."
    sql: ARRAY_TO_STRING(${TABLE}.platforms, ', ') ;;
  }

  dimension: platform_count {
    type: number
    description: "How many platforms the session was seen on."
    sql: ARRAY_LENGTH(${TABLE}.platforms) ;;
  }

  # --- funnel (REPEATED STRING of landing_cta, plan_selection, signup_attempt, purchase_attempt, purchase)

  dimension: funnel_steps {
    hidden: yes
    description: "Funnel steps reached, in funnel order (an array)."
    sql: ${TABLE}.funnel_steps ;;
  }

  dimension: furthest_funnel_step {
    type: string
    description: "The last funnel step the session reached, in funnel order; NULL when it reached none."
    sql: ${TABLE}.funnel_steps[SAFE_OFFSET(ARRAY_LENGTH(${TABLE}.funnel_steps) - 1)] ;;
  }

  dimension: reached_landing_cta {
    type: yesno
    group_label: "Funnel"
    sql: 'landing_cta' IN UNNEST(${TABLE}.funnel_steps) ;;
  }

  dimension: reached_plan_selection {
    type: yesno
    group_label: "Funnel"
    sql: 'plan_selection' IN UNNEST(${TABLE}.funnel_steps) ;;
  }

  dimension: reached_signup_attempt {
    type: yesno
    group_label: "Funnel"
    sql: 'signup_attempt' IN UNNEST(${TABLE}.funnel_steps) ;;
  }

  dimension: reached_purchase_attempt {
    type: yesno
    group_label: "Funnel"
    sql: 'purchase_attempt' IN UNNEST(${TABLE}.funnel_steps) ;;
  }

  dimension: reached_purchase {
    type: yesno
    group_label: "Funnel"
    sql: 'purchase' IN UNNEST(${TABLE}.funnel_steps) ;;
  }

  dimension: converted {
    type: yesno
    description: "Whether the session reached a purchase."
    sql: ${TABLE}.converted ;;
  }

  dimension: acquisition_source {
    type: string
    description: "From a user_signup in the session; NULL when the session has none."
    sql: ${TABLE}.acquisition_source ;;
  }

  dimension: last_correlation_id {
    type: string
    description: "The correlation id (the client's request id) of the session's latest event that has one: find its message in Bronze and Silver by correlation_id."
    sql: ${TABLE}.last_correlation_id ;;
  }

  # --- the pane the row comes from

  dimension: pane_index {
    type: number
    group_label: "Pane"
    sql: ${TABLE}.pane_index ;;
  }

  dimension: pane_timing {
    type: string
    group_label: "Pane"
    description: "EARLY, ON_TIME or LATE."
    sql: ${TABLE}.pane_timing ;;
  }

  dimension: is_final {
    type: yesno
    group_label: "Pane"
    description: "Whether no more updates will come for this session."
    sql: ${TABLE}.is_final ;;
  }

  dimension_group: updated_at {
    type: time
    group_label: "Pane"
    timeframes: [raw, time, date]
    description: "Processing time of the update."
    sql: ${TABLE}.updated_at ;;
  }

  # --- measures (the platform join fans rows out; primary_key makes these symmetric aggregates)

  measure: count {
    type: count
    label: "Sessions"
    drill_fields: [session_detail*]
  }

  measure: users {
    type: count_distinct
    description: "Distinct users (a user is a tenant's: the same user id under two tenants is two users)."
    sql: CONCAT(${tenant_id}, ':', ${user_id}) ;;
  }

  measure: average_duration_seconds {
    type: average
    description: "Mean session duration in seconds (no median: it is not needed on the tiles)."
    value_format_name: decimal_1
    sql: ${duration_seconds} ;;
  }

  measure: converted_sessions {
    type: count
    filters: [converted: "yes"]
  }

  measure: conversion_rate {
    type: number
    description: "Converted sessions / sessions."
    value_format_name: percent_1
    sql: 1.0 * ${converted_sessions} / NULLIF(${count}, 0) ;;
  }

  measure: total_revenue {
    type: sum
    value_format_name: decimal_2
    sql: ${revenue} ;;
  }

  measure: revenue_per_session {
    type: number
    description: "Revenue / sessions."
    value_format_name: decimal_2
    sql: 1.0 * ${total_revenue} / NULLIF(${count}, 0) ;;
  }

  measure: total_events {
    type: sum
    sql: ${event_count} ;;
  }

  measure: total_page_views {
    type: sum
    sql: ${page_views} ;;
  }

  measure: total_clicks {
    type: sum
    sql: ${clicks} ;;
  }

  measure: total_purchases {
    type: sum
    sql: ${purchases} ;;
  }

  # Sessions reaching each funnel step (whose funnel_steps contain it).

  measure: sessions_landing_cta {
    type: count
    group_label: "Funnel"
    filters: [reached_landing_cta: "yes"]
  }

  measure: sessions_plan_selection {
    type: count
    group_label: "Funnel"
    filters: [reached_plan_selection: "yes"]
  }

  measure: sessions_signup_attempt {
    type: count
    group_label: "Funnel"
    filters: [reached_signup_attempt: "yes"]
  }

  measure: sessions_purchase_attempt {
    type: count
    group_label: "Funnel"
    filters: [reached_purchase_attempt: "yes"]
  }

  measure: sessions_purchase {
    type: count
    group_label: "Funnel"
    filters: [reached_purchase: "yes"]
  }

  set: session_detail {
    fields: [session_id, tenant_id, user_id, session_start_time, duration_seconds, event_count, revenue, converted, acquisition_source]
  }
}

# One row per (session, platform): the explore `sessions` joins it with LEFT JOIN UNNEST(platforms).
view: gold_sessions__platforms {
  dimension: platform {
    type: string
    description: "A platform the session was seen on (web, ios or android). A session on several counts under each."
    sql: ${TABLE} ;;
  }
}
