/**
 * Gold sessions computed independently from Silver with SQL (gaps and islands: a gap of 30 min or more starts a
 * session), to check the pipeline's Gold table against.
 */
export const REFERENCE_SESSIONS = `
WITH ordered AS (
  SELECT tenant_id, user_id, epoch_ms(event_time) AS t,
         CASE WHEN lag(epoch_ms(event_time)) OVER w IS NULL
                OR epoch_ms(event_time) - lag(epoch_ms(event_time)) OVER w >= 30 * 60 * 1000 THEN 1 ELSE 0 END AS starts
  FROM silver_events
  WINDOW w AS (PARTITION BY tenant_id, user_id ORDER BY event_time)
), numbered AS (
  SELECT *, sum(starts) OVER (PARTITION BY tenant_id, user_id ORDER BY t ROWS UNBOUNDED PRECEDING) AS n FROM ordered
)
SELECT tenant_id, user_id, min(t) AS session_start, max(t) + 30 * 60 * 1000 AS session_end, count(*) AS event_count
FROM numbered GROUP BY tenant_id, user_id, n`;

/** A session's identity and size, for comparing Gold with the reference. */
export const sessionKey = (r: Record<string, unknown>): string =>
  `${r.tenant_id}|${r.user_id}|${r.session_start}|${r.session_end}|${r.event_count}`;
