-- The SQL behind the main tiles of the Looker explores `sessions` and `tenant_hourly` (deploy/looker/*.lkml),
-- as BigQuery standard SQL over the medallion tables (schemas/tables.ts). Table names are bare: run them with the
-- dataset as the default dataset (bq query --dataset_id=PROJECT:DATASET, or the client's defaultDataset).
-- Looker adds the explore's filters (for example a session_start date range) to the WHERE clauses.
-- Each statement follows a line `-- name: <query_name>`; test/deploy/consumers.test.ts runs every one of them.

-- name: sessions_by_platform
-- Sessions per platform (a session seen on several platforms counts once under each of them, so the column sums to
-- more than the number of sessions), with the average duration in seconds, the share of sessions that converted,
-- the revenue and the revenue per session. A session without platforms would show under a NULL platform. A user is a
-- tenant's (tenant_id, user_id): the same user id under two tenants counts as two users, here and below.
SELECT
  platform,
  COUNT(*) AS sessions,
  COUNT(DISTINCT CONCAT(s.tenant_id, ':', s.user_id)) AS users,
  AVG(s.duration_ms) / 1000 AS avg_duration_seconds,
  SAFE_DIVIDE(COUNTIF(s.converted), COUNT(*)) AS conversion_rate,
  SUM(s.revenue) AS revenue,
  SAFE_DIVIDE(SUM(s.revenue), COUNT(*)) AS revenue_per_session
FROM gold_sessions AS s
-- ON TRUE changes nothing in BigQuery; the emulator needs it to keep a row for an empty array.
LEFT JOIN UNNEST(s.platforms) AS platform ON TRUE
GROUP BY platform
ORDER BY sessions DESC, platform;

-- name: sessions_by_acquisition_source
-- The same measures per acquisition source: the source of a user_signup in the session; NULL for a session
-- without one (most of them).
SELECT
  s.acquisition_source,
  COUNT(*) AS sessions,
  COUNT(DISTINCT CONCAT(s.tenant_id, ':', s.user_id)) AS users,
  AVG(s.duration_ms) / 1000 AS avg_duration_seconds,
  SAFE_DIVIDE(COUNTIF(s.converted), COUNT(*)) AS conversion_rate,
  SUM(s.revenue) AS revenue,
  SAFE_DIVIDE(SUM(s.revenue), COUNT(*)) AS revenue_per_session
FROM gold_sessions AS s
GROUP BY s.acquisition_source
ORDER BY sessions DESC, s.acquisition_source;

-- name: funnel
-- One row per funnel step, in funnel order (schemas/tables.ts FUNNEL_STEPS), even for a step no session reached:
-- the sessions (and distinct users) whose funnel_steps contain the step, the share of all sessions that did, and
-- how many of those sessions converted. The steps are reached, not ordered: a session can attempt a purchase
-- without selecting a plan, so a later step can have more sessions than an earlier one.
WITH steps AS (
  SELECT step, step_index
  FROM UNNEST(['landing_cta', 'plan_selection', 'signup_attempt', 'purchase_attempt', 'purchase']) AS step
  WITH OFFSET AS step_index
),
reached AS (
  SELECT
    step,
    COUNT(*) AS sessions,
    COUNT(DISTINCT CONCAT(s.tenant_id, ':', s.user_id)) AS users,
    COUNTIF(s.converted) AS converted_sessions
  FROM gold_sessions AS s
  CROSS JOIN UNNEST(s.funnel_steps) AS step
  GROUP BY step
),
totals AS (
  SELECT COUNT(*) AS all_sessions FROM gold_sessions
)
SELECT
  steps.step_index + 1 AS step_number,
  steps.step,
  COALESCE(reached.sessions, 0) AS sessions,
  COALESCE(reached.users, 0) AS users,
  SAFE_DIVIDE(COALESCE(reached.sessions, 0), totals.all_sessions) AS share_of_sessions,
  COALESCE(reached.converted_sessions, 0) AS converted_sessions
FROM steps
CROSS JOIN totals
LEFT JOIN reached ON reached.step = steps.step
ORDER BY step_number;

-- name: tenant_hourly
-- Per tenant and hour (event time, UTC), as the pipeline aggregates them, with the purchases per landing call to
-- action in the hour and the tenant's revenue so far that day (UTC).
SELECT
  h.tenant_id,
  h.hour_start,
  h.events,
  h.active_users,
  h.sessions_started,
  h.revenue,
  h.funnel_landing_cta,
  h.funnel_plan_selection,
  h.funnel_signup_attempt,
  h.funnel_purchase_attempt,
  h.funnel_purchase,
  SAFE_DIVIDE(h.funnel_purchase, h.funnel_landing_cta) AS purchases_per_landing_cta,
  SUM(h.revenue) OVER (PARTITION BY h.tenant_id, DATE(h.hour_start) ORDER BY h.hour_start) AS revenue_day_to_date,
  h.pane_timing
FROM gold_tenant_hourly AS h
ORDER BY h.tenant_id, h.hour_start;
