import type { MetricLabels, UserMetric } from "../../core/metrics.ts";
import { ByteReader, ByteWriter } from "./coders/bytes.ts";

/**
 * Tidemark's user metrics (`core/metrics.ts`) as the Fn API's monitoring infos and back: a counter as
 * `beam:metric:user:sum_int64:v1`, a distribution as `beam:metric:user:distribution_int64:v1` (count, sum, min, max),
 * a gauge as `beam:metric:user:latest_double:v1` (time, value), each labelled `PTRANSFORM` (the step's transform id),
 * `NAMESPACE` and `NAME`. Beam's names have no labels: Tidemark's are written into the name as `name{k=v,k2=v2}`
 * (keys in order), which is also how the metric shows in Dataflow's and Prism's metric lists.
 */
const URN = {
  counter: "beam:metric:user:sum_int64:v1",
  distribution: "beam:metric:user:distribution_int64:v1",
  gauge: "beam:metric:user:latest_double:v1",
} as const;
const TYPE = {
  counter: "beam:metrics:sum_int64:v1",
  distribution: "beam:metrics:distribution_int64:v1",
  gauge: "beam:metrics:latest_double:v1",
} as const;

export interface MonitoringInfoShape {
  readonly urn: string;
  readonly type: string;
  readonly labels: { readonly [k: string]: string };
  readonly payload: Uint8Array;
}

/** `,`, `=`, `{`, `}` and `\\` in a label's key or value, escaped with a backslash. */
const escapeLabel = (s: string) => s.replace(/[\\,={}]/g, (c) => `\\${c}`);

/** The name a metric has in the Fn API: its name, and its labels in braces (`name{k=v,k2=v2}`, escaped). */
export function fnMetricName(name: string, labels: MetricLabels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return name;
  return `${name}{${keys.map((k) => `${escapeLabel(k)}=${escapeLabel(labels[k] as string)}`).join(",")}}`;
}

function parseFnMetricName(raw: string): { name: string; labels: MetricLabels } {
  const open = raw.indexOf("{");
  if (open < 0 || !raw.endsWith("}")) return { name: raw, labels: {} };
  const labels: Record<string, string> = {};
  // Split on unescaped `,` and `=`, then unescape.
  let key = "";
  let cur = "";
  const body = raw.slice(open + 1, -1);
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c === "\\" && i + 1 < body.length) cur += body[++i];
    else if (c === "=" && key === "") {
      key = cur;
      cur = "";
    } else if (c === ",") {
      labels[key] = cur;
      key = "";
      cur = "";
    } else cur += c;
  }
  if (key !== "" || cur !== "") labels[key] = cur;
  return { name: raw.slice(0, open), labels };
}

/** A bundle's user metrics of one step (its transform id) as monitoring infos. */
export function userMonitoringInfos(transformId: string, metrics: readonly UserMetric[]): MonitoringInfoShape[] {
  return metrics.map((m) => {
    const w = new ByteWriter();
    if (m.kind === "counter") w.varint(m.value);
    else if (m.kind === "distribution") {
      w.varint(m.count);
      w.varint(m.sum);
      w.varint(m.min);
      w.varint(m.max);
    } else {
      w.varint(m.timestampMs);
      w.float64(m.value);
    }
    return {
      urn: URN[m.kind],
      type: TYPE[m.kind],
      labels: { PTRANSFORM: transformId, NAMESPACE: m.namespace, NAME: fnMetricName(m.name, m.labels) },
      payload: w.finish(),
    };
  });
}

/**
 * Beam's processing time of a transform (its execution-state sampler's, `beam:metric:pardo_execution_time:
 * process_bundle_msecs:v1`, an int64 sum labelled `PTRANSFORM`): the whole milliseconds a bundle spent in the step's
 * code, as `runners/observe/step-time.ts` samples them. The runner sums them over bundles.
 */
export const PROCESS_BUNDLE_MSECS_URN = "beam:metric:pardo_execution_time:process_bundle_msecs:v1";

/** A bundle's processing time of one step (its transform id), whole milliseconds. */
export function processBundleMsecsInfo(transformId: string, msecs: number): MonitoringInfoShape {
  const w = new ByteWriter();
  w.varint(msecs);
  return {
    urn: PROCESS_BUNDLE_MSECS_URN,
    type: TYPE.counter,
    labels: { PTRANSFORM: transformId },
    payload: w.finish(),
  };
}

/**
 * The processing time per step among a job's monitoring infos (the runner's sums of `process_bundle_msecs`), in
 * milliseconds, under the step name its transform id has (`stepOf`; an id it does not know keeps the id).
 */
export function processingMsecsOf(
  infos: readonly MonitoringInfoShape[],
  stepOf: (transformId: string) => string | undefined,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const info of infos) {
    if (info.urn !== PROCESS_BUNDLE_MSECS_URN) continue;
    const transform = info.labels.PTRANSFORM ?? "";
    const step = stepOf(transform) ?? transform;
    out.set(step, (out.get(step) ?? 0) + Number(new ByteReader(info.payload).varintBig()));
  }
  return out;
}

/**
 * The user metrics among a job's monitoring infos (the Job API's `GetJobMetrics`: what finished bundles reported), each under the step
 * name its transform id has (`stepOf`; an id it does not know keeps the id).
 */
export function userMetricsOf(
  infos: readonly MonitoringInfoShape[],
  stepOf: (transformId: string) => string | undefined,
): UserMetric[] {
  const out: UserMetric[] = [];
  for (const info of infos) {
    const kind =
      info.urn === URN.counter
        ? "counter"
        : info.urn === URN.distribution
          ? "distribution"
          : info.urn === URN.gauge
            ? "gauge"
            : undefined;
    if (kind === undefined) continue;
    const transform = info.labels.PTRANSFORM ?? "";
    const { name, labels } = parseFnMetricName(info.labels.NAME ?? "");
    const id = { step: stepOf(transform) ?? transform, namespace: info.labels.NAMESPACE ?? "", name, labels };
    const r = new ByteReader(info.payload);
    if (kind === "counter") out.push({ ...id, kind, value: Number(r.varintBig()) });
    else if (kind === "distribution") {
      const count = Number(r.varintBig());
      if (count === 0) continue;
      out.push({
        ...id,
        kind,
        count,
        sum: Number(r.varintBig()),
        min: Number(r.varintBig()),
        max: Number(r.varintBig()),
      });
    } else {
      const timestampMs = Number(r.varintBig());
      out.push({ ...id, kind, timestampMs, value: r.float64() });
    }
  }
  return out;
}

/**
 * The worker's short ids of monitoring infos (the Fn API's `monitoring_data`): a bundle's response carries each
 * metric's payload under a short id, and the runner asks once for what each id stands for (`MonitoringInfosMetadata`).
 * Prism reads metrics only this way. One registry per worker: an id means the same metric in every bundle.
 */
export class MonitoringShortIds {
  private readonly byKey = new Map<string, string>();
  private readonly byId = new Map<string, Omit<MonitoringInfoShape, "payload">>();

  /** The payloads by short id (ids assigned on first sight). */
  data(infos: readonly MonitoringInfoShape[]): { [shortId: string]: Uint8Array } {
    const out: { [shortId: string]: Uint8Array } = {};
    for (const { urn, type, labels, payload } of infos) {
      const key = JSON.stringify([urn, type, Object.entries(labels).sort()]);
      let id = this.byKey.get(key);
      if (id === undefined) {
        id = `m${this.byKey.size + 1}`;
        this.byKey.set(key, id);
        this.byId.set(id, { urn, type, labels: { ...labels } });
      }
      out[id] = payload;
    }
    return out;
  }

  /** What the ids stand for (ids this worker never gave are left out). */
  metadata(ids: readonly string[]): { [shortId: string]: Omit<MonitoringInfoShape, "payload"> } {
    const out: { [shortId: string]: Omit<MonitoringInfoShape, "payload"> } = {};
    for (const id of ids) {
      const info = this.byId.get(id);
      if (info !== undefined) out[id] = info;
    }
    return out;
  }
}
