/**
 * Row types of the tables in `tables.ts` (times as epoch ms; arrays as arrays; JSON columns as objects).
 * `test/schemas/rows.test.ts` checks that each type's keys are exactly its table's columns.
 */
export interface BronzeRow {
  message_id: string;
  publish_time: number;
  ingest_time: number;
  attributes: Readonly<Record<string, string>>;
  payload: string;
  valid: boolean;
  error_field: string | null;
  error_reason: string | null;
  correlation_id: string | null;
  payload_encoding: "base64" | null;
}

export interface SilverRow {
  event_id: string;
  event_type: string;
  tenant_id: string;
  user_id: string;
  event_time: number;
  event_time_raw: string;
  ingest_time: number;
  lateness_ms: number;
  is_late: boolean;
  platform: string;
  schema_version: number;
  device: string | null;
  page: string | null;
  amount: number | null;
  currency: string | null;
  items: number | null;
  acquisition_source: string | null;
  button: string | null;
  properties: Readonly<Record<string, unknown>> | null;
  message_id: string;
  correlation_id: string | null;
}

export interface GoldSessionRow {
  session_id: string;
  tenant_id: string;
  user_id: string;
  session_start: number;
  session_end: number;
  duration_ms: number;
  event_count: number;
  page_views: number;
  clicks: number;
  purchases: number;
  revenue: number;
  entry_page: string | null;
  exit_page: string | null;
  platforms: string[];
  funnel_steps: string[];
  converted: boolean;
  acquisition_source: string | null;
  pane_index: number;
  pane_timing: string;
  is_final: boolean;
  updated_at: number;
  last_correlation_id: string | null;
}

export interface GoldHourlyRow {
  tenant_id: string;
  hour_start: number;
  events: number;
  active_users: number;
  sessions_started: number;
  revenue: number;
  funnel_landing_cta: number;
  funnel_plan_selection: number;
  funnel_signup_attempt: number;
  funnel_purchase_attempt: number;
  funnel_purchase: number;
  pane_timing: string;
  updated_at: number;
}

/** One line of an order (a record of `silver_orders.line_items`). */
export interface LineItem {
  sku: string;
  quantity: number;
  unit_price: number;
}

/** The columns every typed Silver row starts with (`typedCommon` in tables.ts). */
interface TypedCommonRow {
  event_id: string;
  tenant_id: string;
  user_id: string;
  event_time: number;
  ingest_time: number;
  message_id: string;
}

export interface SilverOrderRow extends TypedCommonRow {
  order_id: string;
  currency: string;
  total: number;
  line_items: LineItem[];
}

export interface SilverInventoryRow extends TypedCommonRow {
  sku: string;
  warehouse: string;
  delta: number;
  on_hand: number;
}

export interface SilverActivityRow extends TypedCommonRow {
  action: string;
  actor_id: number | null;
  page: string | null;
}

/** The row of each typed Silver table, by its event type (`TYPED_TABLES` in tables.ts). */
export interface TypedSilverRows {
  order: SilverOrderRow;
  inventory: SilverInventoryRow;
  user_activity: SilverActivityRow;
}
