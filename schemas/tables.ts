import type { Column, FieldType, RecordField, TableSchema } from "./table-schema.ts";

const c = (name: string, type: Column["type"], required: boolean, description: string): Column => ({
  name,
  type,
  required,
  description,
});

/**
 * Every message as received, valid or not. Append-only; idempotent on (message_id, publish_time): a re-delivery
 * has both the same, while a message id alone is unique only within one topic (and an emulator restarted empty
 * hands out the same ids again).
 */
export const BRONZE: TableSchema = {
  name: "bronze_messages",
  description: "Every message received, exactly as received, including payloads that are not valid events.",
  key: ["message_id", "publish_time"],
  partitionBy: "ingest_time",
  columns: [
    c("message_id", "STRING", true, "The transport's message id (Pub/Sub messageId)."),
    c("publish_time", "TIMESTAMP", true, "When the message was published."),
    c("ingest_time", "TIMESTAMP", true, "When the pipeline received the message (processing time)."),
    c("attributes", "JSON", true, "The message attributes, as a JSON object."),
    c("payload", "STRING", true, "The raw payload: its UTF-8 text, or its bytes in base64 (payload_encoding)."),
    c(
      "valid",
      "BOOL",
      true,
      "Whether the payload parsed into a valid event of its tenant (the tenant_id attribute, if any, agreeing).",
    ),
    c("error_field", "STRING", false, "For an invalid message: the field at fault."),
    c("error_reason", "STRING", false, "For an invalid message: what is wrong with it."),
    c(
      "correlation_id",
      "STRING",
      false,
      "The message's correlation id attribute, if it has one; it follows the message into Silver, Gold and the logs.",
    ),
    c(
      "payload_encoding",
      "STRING",
      false,
      "base64 when the payload's bytes are not UTF-8 text (payload is then their base64), else null (payload is the text).",
    ),
  ],
};

/**
 * Valid, typed, de-duplicated events. Idempotent on (tenant_id, event_id): an event id is unique within its tenant
 * only, so two tenants' events with the same id are two rows.
 */
export const SILVER: TableSchema = {
  name: "silver_events",
  description: "Parsed, validated events, de-duplicated on (tenant_id, event_id), with their event time and lateness.",
  key: ["tenant_id", "event_id"],
  partitionBy: "event_time",
  clusterBy: ["tenant_id", "user_id"],
  columns: [
    c("event_id", "STRING", true, "The event's id, unique within its tenant (duplicates are dropped)."),
    c("event_type", "STRING", true, "page_view, button_click, purchase, user_signup, session_start, ..."),
    c("tenant_id", "STRING", true, "The tenant the user belongs to."),
    c("user_id", "STRING", true, "The user."),
    c("event_time", "TIMESTAMP", true, "When the event happened (normalised to UTC)."),
    c("event_time_raw", "STRING", true, "The event time exactly as sent."),
    c("ingest_time", "TIMESTAMP", true, "When the pipeline received it."),
    c("lateness_ms", "INT64", true, "Processing time minus event time at arrival."),
    c("is_late", "BOOL", true, "Whether the event was behind the watermark when it arrived."),
    c("platform", "STRING", true, "web, ios or android."),
    c("schema_version", "INT64", true, "The event schema version."),
    c("device", "STRING", false, "The device, when sent."),
    c("page", "STRING", false, "The page or screen, when sent."),
    c("amount", "FLOAT64", false, "purchase and order: the amount."),
    c("currency", "STRING", false, "purchase and order: the currency."),
    c("items", "INT64", false, "purchase and order: the number of items."),
    c("acquisition_source", "STRING", false, "user_signup: where the user came from."),
    c("button", "STRING", false, "button_click: which control."),
    c("properties", "JSON", false, "Any other properties, as sent."),
    c("message_id", "STRING", true, "The message it came in (links to Bronze)."),
    c("correlation_id", "STRING", false, "The correlation id attribute of the message it came in, if any."),
  ],
};

/** The funnel steps a session can reach, in order. */
export const FUNNEL_STEPS = [
  "landing_cta",
  "plan_selection",
  "signup_attempt",
  "purchase_attempt",
  "purchase",
] as const;

/** One row per current session: an upsert table (a later pane replaces the row; merged-away sessions are deleted). */
export const GOLD_SESSIONS: TableSchema = {
  name: "gold_sessions",
  description: "Per tenant and user session windows (gap-based, merged by late data), one row per current session.",
  key: ["session_id"],
  partitionBy: "session_start",
  clusterBy: ["tenant_id", "user_id"],
  columns: [
    c(
      "session_id",
      "STRING",
      true,
      "Stable id: hash of tenant, user and session start (see pipelines/user-sessions/README.md).",
    ),
    c("tenant_id", "STRING", true, "The tenant."),
    c("user_id", "STRING", true, "The user."),
    c("session_start", "TIMESTAMP", true, "Event time of the session's first event."),
    c("session_end", "TIMESTAMP", true, "Event time of the last event plus the gap (the window's end)."),
    c("duration_ms", "INT64", true, "Last event time minus first event time."),
    c("event_count", "INT64", true, "Events in the session."),
    c("page_views", "INT64", true, "page_view events."),
    c("clicks", "INT64", true, "button_click events."),
    c("purchases", "INT64", true, "purchase events."),
    c("revenue", "FLOAT64", true, "Sum of purchase amounts."),
    c("entry_page", "STRING", false, "The page of the first event that has one."),
    c("exit_page", "STRING", false, "The page of the last event that has one."),
    c("platforms", "STRING_ARRAY", true, "Platforms seen in the session."),
    c("funnel_steps", "STRING_ARRAY", true, "Funnel steps reached."),
    c("converted", "BOOL", true, "Whether the session reached a purchase."),
    c("acquisition_source", "STRING", false, "From a user_signup in the session, if any."),
    c("pane_index", "INT64", true, "The pane of the session window this row comes from."),
    c("pane_timing", "STRING", true, "EARLY, ON_TIME or LATE."),
    c("is_final", "BOOL", true, "Whether no more updates will come for this session."),
    c("updated_at", "TIMESTAMP", true, "Processing time of the update."),
    c(
      "last_correlation_id",
      "STRING",
      false,
      "The correlation id of the session's latest event that has one (event time, then event id).",
    ),
  ],
};

/** Per-tenant hourly aggregates, for dashboards. */
export const GOLD_HOURLY: TableSchema = {
  name: "gold_tenant_hourly",
  description: "Per tenant and hour (fixed windows on event time): sessions started, active users, revenue, funnel.",
  key: ["tenant_id", "hour_start"],
  partitionBy: "hour_start",
  clusterBy: ["tenant_id"],
  columns: [
    c("tenant_id", "STRING", true, "The tenant."),
    c("hour_start", "TIMESTAMP", true, "The hour (event time)."),
    c("events", "INT64", true, "Events in the hour."),
    c("active_users", "INT64", true, "Distinct users with an event in the hour."),
    c("sessions_started", "INT64", true, "session_start events in the hour."),
    c("revenue", "FLOAT64", true, "Sum of purchase amounts."),
    c("funnel_landing_cta", "INT64", true, "Users reaching the landing call to action."),
    c("funnel_plan_selection", "INT64", true, "Users selecting a plan."),
    c("funnel_signup_attempt", "INT64", true, "Users attempting to sign up."),
    c("funnel_purchase_attempt", "INT64", true, "Users attempting a purchase."),
    c("funnel_purchase", "INT64", true, "Users purchasing."),
    c("pane_timing", "STRING", true, "EARLY, ON_TIME or LATE."),
    c("updated_at", "TIMESTAMP", true, "Processing time of the update."),
  ],
};

const f = (name: string, type: FieldType, required: boolean, description: string): RecordField => ({
  name,
  type,
  required,
  description,
});

/**
 * The columns every typed Silver table starts with: the event's key (tenant_id, event_id, as in Silver), its user
 * and time, and the message it came in.
 */
const typedCommon = (what: string): Column[] => [
  c("event_id", "STRING", true, `The ${what} event's id, unique within its tenant (as in silver_events).`),
  c("tenant_id", "STRING", true, "The tenant."),
  c("user_id", "STRING", true, "The user."),
  c("event_time", "TIMESTAMP", true, "When the event happened (normalised to UTC)."),
  c("ingest_time", "TIMESTAMP", true, "When the pipeline received it."),
  c("message_id", "STRING", true, "The message it came in (links to Bronze)."),
];

/**
 * Typed Silver tables: the events of a declared type (`schemas/event-types.ts`), beside their row in silver_events,
 * with the type's own fields as typed columns. Written as Silver is (de-duplicated on (tenant_id, event_id), appended
 * idempotently on that key).
 */
export const SILVER_ORDERS: TableSchema = {
  name: "silver_orders",
  description: "order events with their line items (a repeated record), de-duplicated on (tenant_id, event_id).",
  key: ["tenant_id", "event_id"],
  partitionBy: "event_time",
  clusterBy: ["tenant_id", "user_id"],
  columns: [
    ...typedCommon("order"),
    c("order_id", "STRING", true, "The order's id in the shop."),
    c("currency", "STRING", true, "The currency of the prices and the total."),
    c("total", "FLOAT64", true, "The order's total (the event's amount): the sum of quantity x unit_price."),
    {
      ...c("line_items", "RECORD_ARRAY", true, "The order's lines, in the order sent."),
      fields: [
        f("sku", "STRING", true, "The product's stock-keeping unit."),
        f("quantity", "INT64", true, "How many (a positive integer)."),
        f("unit_price", "FLOAT64", true, "The price of one, in the order's currency."),
      ],
    },
  ],
};

export const SILVER_INVENTORY: TableSchema = {
  name: "silver_inventory",
  description: "inventory events: a change of stock of a sku in a warehouse, de-duplicated on (tenant_id, event_id).",
  key: ["tenant_id", "event_id"],
  partitionBy: "event_time",
  clusterBy: ["tenant_id", "sku"],
  columns: [
    ...typedCommon("inventory"),
    c("sku", "STRING", true, "The product's stock-keeping unit."),
    c("warehouse", "STRING", true, "The warehouse whose stock changed."),
    c("delta", "INT64", true, "The change of stock (negative: taken out)."),
    c("on_hand", "INT64", true, "The stock after the change, as the source system reports it."),
  ],
};

export const SILVER_ACTIVITY: TableSchema = {
  name: "silver_activity",
  description: "user_activity events: what a user did, de-duplicated on (tenant_id, event_id).",
  key: ["tenant_id", "event_id"],
  partitionBy: "event_time",
  clusterBy: ["tenant_id", "user_id"],
  columns: [
    ...typedCommon("user_activity"),
    c("action", "STRING", true, "What the user did: search, scroll, share, favorite, ..."),
    c("actor_id", "INT64", false, "The user's integer id in the source system, when sent."),
    c("page", "STRING", false, "The page or screen, when sent."),
  ],
};

/** The typed Silver table of each declared event type (`TYPED_EVENT_TYPES`). */
export const TYPED_TABLES = {
  order: SILVER_ORDERS,
  inventory: SILVER_INVENTORY,
  user_activity: SILVER_ACTIVITY,
} as const satisfies Record<string, TableSchema>;

/** The medallion's tables; the typed Silver tables last (the summary lists them in this order). */
export const TABLES: readonly TableSchema[] = [
  BRONZE,
  SILVER,
  GOLD_SESSIONS,
  GOLD_HOURLY,
  SILVER_ORDERS,
  SILVER_INVENTORY,
  SILVER_ACTIVITY,
];

/**
 * Rows a warehouse could not write (a value of the wrong type, a missing required value): kept here with the reason
 * instead of failing the batch or vanishing. The BigQuery sink writes it; it is not one of the medallion tables.
 */
export const WRITE_ERRORS: TableSchema = {
  name: "write_errors",
  description: "Rows a sink could not write to their table, with the reason (a dead-letter table).",
  key: ["target_table", "row_key"],
  partitionBy: "failed_at",
  columns: [
    c("target_table", "STRING", true, "The table the row was meant for."),
    c("row_key", "STRING", true, "The row's key columns as JSON, or the whole row when they are unreadable."),
    c("reason", "STRING", true, "What is wrong with the row: the column and the value."),
    c("row_json", "STRING", true, "The row as JSON text."),
    c("failed_at", "TIMESTAMP", true, "When the write was refused (processing time)."),
  ],
};
