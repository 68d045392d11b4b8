import { describe, expect, it } from "vitest";
import type { UserMetric } from "../../../core/metrics.ts";
import type { MetricsSnapshot, StepMetrics } from "../../../runners/direct/metrics.ts";
import { JobMetrics } from "../../../runners/observe/prometheus.ts";
import { parseExposition } from "./exposition.ts";

const step = (elementsIn: number, elementsOut: number): StepMetrics => ({
  step: "Parse",
  kind: "parDo",
  elementsIn,
  elementsOut,
  droppedLate: 0,
  droppedClosed: 0,
  inputWatermark: 0,
  outputWatermark: 0,
});

describe("JobMetrics", () => {
  it("counts this process's work: what a run resumed with from a checkpoint is not counted again", async () => {
    let snap: MetricsSnapshot = {
      steps: [step(9_500, 9_500)],
      resumedWith: [step(9_500, 9_500)],
      user: [],
      processingTime: 0,
      sourceEvents: 0,
    };
    const m = new JobMetrics(() => snap);
    expect(parseExposition(await m.text()).value("tidemark_step_elements_in_total", { step: "Parse" })).toBe(0);
    snap = { ...snap, steps: [step(9_700, 9_650)] };
    const after = parseExposition(await m.text());
    expect(after.value("tidemark_step_elements_in_total", { step: "Parse" })).toBe(200);
    expect(after.value("tidemark_step_elements_out_total", { step: "Parse" })).toBe(150);
  });

  it("leaves out a user metric Prometheus cannot take, counts it, and still serves the rest", async () => {
    const user: UserMetric[] = [
      { step: "A", namespace: "ns", name: "gone_negative", labels: {}, kind: "counter", value: -3 },
      { step: "B", namespace: "ns", name: "mixed", labels: {}, kind: "counter", value: 1 },
      { step: "A", namespace: "ns", name: "mixed", labels: { field: "x" }, kind: "counter", value: 1 },
      { step: "A", namespace: "ns", name: "fine", labels: {}, kind: "counter", value: 4 },
    ];
    const m = new JobMetrics(() => ({ steps: [], user, processingTime: 0, sourceEvents: 0 }));
    const out = parseExposition(await m.text());
    expect(out.value("ns_fine_total", { step: "A" })).toBe(4);
    expect(out.value("tidemark_metrics_export_errors_total", { metric: "ns/gone_negative" })).toBe(1);
    expect(out.value("tidemark_metrics_export_errors_total", { metric: "ns/mixed" })).toBe(1);
    expect(m.lastExportError).toMatch(/label/);
  });
});
