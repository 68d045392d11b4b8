-- user_features: the BigQuery source of the Vertex AI Feature Store feature view `user_features`
-- (deploy/vertex-ai/feature_view.json), over the Gold and Silver tables of the medallion pipeline (schemas/tables.ts).
--
-- One row per user of a tenant, the entity: Vertex AI syncs a BigQuery source given to a feature view directly
-- (bigQuerySource) as exactly one row of the latest values per entity id. A user is (tenant_id, user_id), as in
-- Gold: two tenants may use the same user id for two people.
--
--   entity_id               STRING     tenant_id, ':', user_id (e.g. acme:u_0001_3d6bbc). Unambiguous: a tenant id
--                                      has no ':' (schemas/tenant.ts). One column, as a feature group's entity id is.
--   feature_timestamp       TIMESTAMP  the snapshot time: the session_end of the user's latest session (the session
--                                      window's end: last event time plus the gap). Every feature below is as of it.
--   tenant_id               STRING     the user's tenant.
--   user_id                 STRING     the user's id within the tenant.
--   sessions_7d             INT64      sessions that ended in the 7 days up to the snapshot:
--                                      feature_timestamp - 7 days < session_end <= feature_timestamp
--                                      (ended, so nothing after the snapshot leaks in). Always >= 1: the latest.
--   avg_session_seconds_7d  FLOAT64    the mean duration_ms / 1000 of those sessions.
--   purchases_7d            INT64      their purchase events.
--   revenue_7d              FLOAT64    their revenue.
--   conversion_rate_7d      FLOAT64    converted sessions / sessions_7d.
--   last_platform           STRING     the platform of the latest session. When that session was seen on several
--                                      platforms (gold_sessions.platforms is a sorted set), the platform of its
--                                      latest event in silver_events (event_time in [session_start, session_end),
--                                      same tenant and user, one of the session's platforms; ties go to the first
--                                      platform by name); the session's first platform by name if Silver has none.
--
-- Sessions are the current rows of gold_sessions, final or not: an open session's row carries its latest pane.
-- The latest session of a user is the one with the greatest session_end (ties: the later start, then the greater
-- session_id). Users whose activity stopped long ago keep their last week's features, stamped with that week's end.
--
-- Table names are bare, resolved in the default dataset of the query. A BigQuery view needs them qualified: see
-- README.md for CREATE VIEW user_features.
WITH latest AS (
  SELECT
    tenant_id,
    user_id,
    session_start,
    session_end AS feature_timestamp,
    platforms
  FROM gold_sessions
  -- BigQuery takes QUALIFY only beside a WHERE, GROUP BY or HAVING.
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY tenant_id, user_id ORDER BY session_end DESC, session_start DESC, session_id DESC
  ) = 1
),
last_event_platform AS (
  SELECT l.tenant_id, l.user_id, e.platform
  FROM latest AS l
  JOIN silver_events AS e
    ON e.user_id = l.user_id
    AND e.tenant_id = l.tenant_id
    AND e.event_time >= l.session_start
    AND e.event_time < l.feature_timestamp
    AND e.platform IN UNNEST(l.platforms)
  WHERE ARRAY_LENGTH(l.platforms) > 1
  QUALIFY ROW_NUMBER() OVER (PARTITION BY l.tenant_id, l.user_id ORDER BY e.event_time DESC, e.platform) = 1
),
last_7_days AS (
  SELECT
    l.tenant_id,
    l.user_id,
    COUNT(*) AS sessions_7d,
    AVG(s.duration_ms) / 1000 AS avg_session_seconds_7d,
    SUM(s.purchases) AS purchases_7d,
    SUM(s.revenue) AS revenue_7d,
    SAFE_DIVIDE(COUNTIF(s.converted), COUNT(*)) AS conversion_rate_7d
  FROM latest AS l
  JOIN gold_sessions AS s
    ON s.tenant_id = l.tenant_id
    AND s.user_id = l.user_id
    AND s.session_end > TIMESTAMP_SUB(l.feature_timestamp, INTERVAL 7 DAY)
    AND s.session_end <= l.feature_timestamp
  GROUP BY l.tenant_id, l.user_id
)
SELECT
  CONCAT(l.tenant_id, ':', l.user_id) AS entity_id,
  l.feature_timestamp,
  l.tenant_id,
  l.user_id,
  w.sessions_7d,
  w.avg_session_seconds_7d,
  w.purchases_7d,
  w.revenue_7d,
  w.conversion_rate_7d,
  COALESCE(p.platform, l.platforms[SAFE_OFFSET(0)]) AS last_platform
FROM latest AS l
JOIN last_7_days AS w ON w.tenant_id = l.tenant_id AND w.user_id = l.user_id
LEFT JOIN last_event_platform AS p ON p.tenant_id = l.tenant_id AND p.user_id = l.user_id
