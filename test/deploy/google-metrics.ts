/**
 * The Google Cloud metrics the Cloud Monitoring alert policies (deploy/monitoring/*.alert.json) may read, as Google's
 * metric list documents them (kind, monitored resource, metric labels), and the monitored resources' labels.
 */
export interface GoogleMetric {
  readonly resource: "pubsub_subscription" | "dataflow_job";
  readonly kind: "GAUGE" | "DELTA" | "CUMULATIVE";
  readonly labels: readonly string[];
}

export const GOOGLE_METRICS: Readonly<Record<string, GoogleMetric>> = {
  // GAUGE, INT64: unacknowledged messages (the backlog); the age in seconds of the oldest one.
  "pubsub.googleapis.com/subscription/num_undelivered_messages": {
    resource: "pubsub_subscription",
    kind: "GAUGE",
    labels: [],
  },
  "pubsub.googleapis.com/subscription/oldest_unacked_message_age": {
    resource: "pubsub_subscription",
    kind: "GAUGE",
    labels: [],
  },
  // GAUGE, INT64, s: how far behind the wall clock the job's data watermark is; the longest an element has waited.
  "dataflow.googleapis.com/job/data_watermark_age": { resource: "dataflow_job", kind: "GAUGE", labels: ["job_id"] },
  "dataflow.googleapis.com/job/system_lag": { resource: "dataflow_job", kind: "GAUGE", labels: ["job_id"] },
  // GAUGE, DOUBLE: a user counter's running total, by its name (not its namespace) and the PTransform reporting it.
  "dataflow.googleapis.com/job/user_counter": {
    resource: "dataflow_job",
    kind: "GAUGE",
    labels: ["metric_name", "job_id", "ptransform"],
  },
};

export const RESOURCE_LABELS: Readonly<Record<GoogleMetric["resource"], readonly string[]>> = {
  pubsub_subscription: ["project_id", "subscription_id"],
  dataflow_job: ["project_id", "job_name", "region"],
};

/**
 * A metric type's name in Cloud Monitoring's PromQL: the first `/` becomes `:`, every other character that is not a
 * letter, digit or `_` becomes `_` (`dataflow.googleapis.com/job/user_counter` is
 * `dataflow_googleapis_com:job_user_counter`).
 */
export function promqlMetricName(type: string): string {
  const slash = type.indexOf("/");
  const clean = (s: string) => s.replace(/[^a-zA-Z0-9_]/g, "_");
  return `${clean(type.slice(0, slash))}:${clean(type.slice(slash + 1))}`;
}

/** The AlertPolicy fields a policy file may set (the API's writable fields; `name` and the records are the API's). */
export const POLICY_FIELDS = [
  "displayName",
  "documentation",
  "userLabels",
  "conditions",
  "combiner",
  "enabled",
  "notificationChannels",
  "alertStrategy",
  "severity",
];

/** The aligners of the API's `Aggregation.Aligner`, and those that need a DELTA or CUMULATIVE metric. */
export const ALIGNERS = [
  "ALIGN_NONE",
  "ALIGN_DELTA",
  "ALIGN_RATE",
  "ALIGN_INTERPOLATE",
  "ALIGN_NEXT_OLDER",
  "ALIGN_MIN",
  "ALIGN_MAX",
  "ALIGN_MEAN",
  "ALIGN_COUNT",
  "ALIGN_SUM",
  "ALIGN_STDDEV",
  "ALIGN_COUNT_TRUE",
  "ALIGN_COUNT_FALSE",
  "ALIGN_FRACTION_TRUE",
  "ALIGN_PERCENTILE_99",
  "ALIGN_PERCENTILE_95",
  "ALIGN_PERCENTILE_50",
  "ALIGN_PERCENTILE_05",
  "ALIGN_PERCENT_CHANGE",
];
export const ALIGNERS_NOT_FOR_GAUGES = ["ALIGN_DELTA", "ALIGN_RATE"];
export const REDUCERS = [
  "REDUCE_NONE",
  "REDUCE_MEAN",
  "REDUCE_MIN",
  "REDUCE_MAX",
  "REDUCE_SUM",
  "REDUCE_STDDEV",
  "REDUCE_COUNT",
  "REDUCE_COUNT_TRUE",
  "REDUCE_COUNT_FALSE",
  "REDUCE_FRACTION_TRUE",
  "REDUCE_PERCENTILE_99",
  "REDUCE_PERCENTILE_95",
  "REDUCE_PERCENTILE_50",
  "REDUCE_PERCENTILE_05",
];
export const COMPARISONS = [
  "COMPARISON_GT",
  "COMPARISON_GE",
  "COMPARISON_LT",
  "COMPARISON_LE",
  "COMPARISON_EQ",
  "COMPARISON_NE",
];
