# gold_tenant_hourly: per tenant and hour of event time (schemas/tables.ts GOLD_HOURLY), upserted on
# (tenant_id, hour_start). Every column is a dimension of the same name.
view: gold_tenant_hourly {
  sql_table_name: `@{dataset}.gold_tenant_hourly` ;;

  dimension: tenant_hour {
    primary_key: yes
    hidden: yes
    sql: CONCAT(${TABLE}.tenant_id, '|', CAST(UNIX_MILLIS(${TABLE}.hour_start) AS STRING)) ;;
  }

  dimension: tenant_id {
    type: string
    description: "The tenant."
    sql: ${TABLE}.tenant_id ;;
  }

  dimension_group: hour_start {
    type: time
    timeframes: [raw, hour, hour_of_day, date, day_of_week, week, month]
    description: "The hour (event time, UTC)."
    sql: ${TABLE}.hour_start ;;
  }

  dimension: events {
    type: number
    sql: ${TABLE}.events ;;
  }

  dimension: active_users {
    type: number
    description: "Distinct users with an event in the hour."
    sql: ${TABLE}.active_users ;;
  }

  dimension: sessions_started {
    type: number
    sql: ${TABLE}.sessions_started ;;
  }

  dimension: revenue {
    type: number
    value_format_name: decimal_2
    sql: ${TABLE}.revenue ;;
  }

  dimension: funnel_landing_cta {
    type: number
    group_label: "Funnel"
    sql: ${TABLE}.funnel_landing_cta ;;
  }

  dimension: funnel_plan_selection {
    type: number
    group_label: "Funnel"
    sql: ${TABLE}.funnel_plan_selection ;;
  }

  dimension: funnel_signup_attempt {
    type: number
    group_label: "Funnel"
    sql: ${TABLE}.funnel_signup_attempt ;;
  }

  dimension: funnel_purchase_attempt {
    type: number
    group_label: "Funnel"
    sql: ${TABLE}.funnel_purchase_attempt ;;
  }

  dimension: funnel_purchase {
    type: number
    group_label: "Funnel"
    sql: ${TABLE}.funnel_purchase ;;
  }

  dimension: pane_timing {
    type: string
    description: "EARLY, ON_TIME or LATE."
    sql: ${TABLE}.pane_timing ;;
  }

  dimension_group: updated_at {
    type: time
    timeframes: [raw, time, date]
    description: "Processing time of the update."
    sql: ${TABLE}.updated_at ;;
  }

  measure: count {
    type: count
    label: "Tenant Hours"
  }

  measure: total_events {
    type: sum
    sql: ${events} ;;
  }

  measure: total_active_users {
    type: sum
    label: "Active User Hours"
    description: "Sum of hourly active users: a user active in several hours counts once per hour (not distinct users)."
    sql: ${active_users} ;;
  }

  measure: total_sessions_started {
    type: sum
    sql: ${sessions_started} ;;
  }

  measure: total_revenue {
    type: sum
    value_format_name: decimal_2
    sql: ${revenue} ;;
  }

  measure: total_funnel_landing_cta {
    type: sum
    group_label: "Funnel"
    sql: ${funnel_landing_cta} ;;
  }

  measure: total_funnel_plan_selection {
    type: sum
    group_label: "Funnel"
    sql: ${funnel_plan_selection} ;;
  }

  measure: total_funnel_signup_attempt {
    type: sum
    group_label: "Funnel"
    sql: ${funnel_signup_attempt} ;;
  }

  measure: total_funnel_purchase_attempt {
    type: sum
    group_label: "Funnel"
    sql: ${funnel_purchase_attempt} ;;
  }

  measure: total_funnel_purchase {
    type: sum
    group_label: "Funnel"
    sql: ${funnel_purchase} ;;
  }
}
