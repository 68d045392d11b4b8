/**
 * deploy/monitoring's files as the alert tests read them: the Prometheus rules (through the YAML subset reader), the
 * Cloud Monitoring policies, and what a scrape of the job shows of the series a rule or a policy reads.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ParsedSample } from "../runners/observe/exposition.ts";
import type { LabelMatcher, VectorSelector } from "./promql-names.ts";
import { parseYaml, type YamlValue } from "./yaml-subset.ts";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const MONITORING = join(ROOT, "deploy/monitoring");
export const RULES_FILE = join(MONITORING, "prometheus-rules.yml");
export const RULES_TEST_FILE = join(MONITORING, "prometheus-rules.test.yml");
/** Metrics that come from Cloud Monitoring through the Stackdriver exporter, not from the job. */
const EXPORTER_PREFIX = "stackdriver_";
/** Labels Prometheus adds to every scraped series (the target's). */
const TARGET_LABELS = ["job", "instance"];

export interface AlertRule {
  readonly group: string;
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export const asObject = (v: YamlValue | undefined, what: string): Record<string, YamlValue> => {
  if (v === undefined || typeof v === "string" || Array.isArray(v)) throw new Error(`${what}: not a mapping`);
  return v;
};
export const asList = (v: YamlValue | undefined, what: string): YamlValue[] => {
  if (!Array.isArray(v)) throw new Error(`${what}: not a list`);
  return v;
};
const asStrings = (v: YamlValue | undefined, what: string): Record<string, string> =>
  Object.fromEntries(
    Object.entries(asObject(v ?? {}, what)).map(([k, x]) => {
      if (typeof x !== "string") throw new Error(`${what}.${k}: not a string`);
      return [k, x];
    }),
  );

export function readRules(): AlertRule[] {
  const file = asObject(parseYaml(readFileSync(RULES_FILE, "utf8")), "rules file");
  return asList(file.groups, "groups").flatMap((g) => {
    const group = asObject(g, "group");
    return asList(group.rules, `group ${group.name}`).map((r) => {
      const rule = asObject(r, "rule");
      return {
        group: String(group.name),
        alert: String(rule.alert),
        expr: String(rule.expr),
        for: String(rule.for ?? ""),
        labels: asStrings(rule.labels, `${rule.alert}.labels`),
        annotations: asStrings(rule.annotations, `${rule.alert}.annotations`),
      };
    });
  });
}

/** Whether a label value satisfies a matcher (regular expressions anchored, as PromQL's are). */
export function holds(m: LabelMatcher, value: string): boolean {
  const re = new RegExp(`^(?:${m.value})$`);
  return m.op === "="
    ? value === m.value
    : m.op === "!="
      ? value !== m.value
      : m.op === "=~"
        ? re.test(value)
        : !re.test(value);
}

/** What a rule or a policy reads that the scrape does not show: metrics not served, matchers no series satisfies. */
export function unserved(
  selectors: readonly VectorSelector[],
  groupingLabels: readonly string[],
  samples: readonly ParsedSample[],
): string[] {
  const problems: string[] = [];
  const seen: ParsedSample[] = [];
  for (const s of selectors) {
    if (s.name?.startsWith(EXPORTER_PREFIX)) continue;
    const ofName = samples.filter((x) => x.name === s.name);
    if (ofName.length === 0) {
      problems.push(`${s.name}: not served`);
      continue;
    }
    seen.push(...ofName);
    const matching = ofName.filter((x) => s.matchers.every((m) => holds(m, x.labels[m.label] ?? "")));
    if (matching.length === 0) problems.push(`${s.name}${JSON.stringify(s.matchers)}: no served series matches`);
  }
  const exporterOnly = selectors.every((s) => s.name?.startsWith(EXPORTER_PREFIX));
  for (const l of exporterOnly ? [] : groupingLabels) {
    if (!TARGET_LABELS.includes(l) && !seen.some((x) => l in x.labels)) problems.push(`label ${l}: on no series read`);
  }
  return problems;
}

export interface Condition {
  readonly displayName?: string;
  readonly conditionThreshold?: Record<string, unknown> & { filter: string };
  readonly conditionAbsent?: Record<string, unknown> & { filter: string };
  readonly conditionPrometheusQueryLanguage?: { query: string; duration?: string; evaluationInterval?: string };
}

export function policies(): { file: string; policy: Record<string, unknown> }[] {
  return readdirSync(MONITORING)
    .filter((f) => f.endsWith(".alert.json"))
    .sort()
    .map((file) => ({ file, policy: JSON.parse(readFileSync(join(MONITORING, file), "utf8")) }));
}

export const conditionsOf = (policy: Record<string, unknown>) => (policy.conditions ?? []) as Condition[];

/** Every object key, recursively (but inside userLabels and PromQL labels, which are the user's). */
export function keysOf(v: unknown, path = ""): string[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => keysOf(x, `${path}[${i}]`));
  if (v === null || typeof v !== "object") return [];
  return Object.entries(v).flatMap(([k, x]) => [
    `${path}.${k}`,
    ...(k === "userLabels" || k === "labels" ? [] : keysOf(x, `${path}.${k}`)),
  ]);
}
