import { describe, expect, it } from "vitest";
import {
  currentMetricsContainer,
  enterMetricsContainer,
  Metrics,
  MetricsContainer,
  UNATTRIBUTED,
} from "../../core/metrics.ts";

describe("user metrics (Beam's Metrics)", () => {
  it("count in the container the runner entered, and nest", () => {
    const a = new MetricsContainer("A");
    const b = new MetricsContainer("B");
    const outer = enterMetricsContainer(a);
    try {
      Metrics.counter("ns", "n").inc();
      const inner = enterMetricsContainer(b);
      Metrics.counter("ns", "n").inc(5);
      enterMetricsContainer(inner);
      Metrics.counter("ns", "n").inc(2);
      expect(currentMetricsContainer()).toBe(a);
    } finally {
      enterMetricsContainer(outer);
    }
    expect(a.values()).toEqual([{ step: "A", namespace: "ns", name: "n", labels: {}, kind: "counter", value: 3 }]);
    expect(b.values()).toEqual([{ step: "B", namespace: "ns", name: "n", labels: {}, kind: "counter", value: 5 }]);
    expect(currentMetricsContainer()).toBe(UNATTRIBUTED);
  });

  it("keep the step a handle was asked for in, after an await", async () => {
    const a = new MetricsContainer("A");
    const outer = enterMetricsContainer(a);
    const later = (async () => {
      const c = Metrics.counter("ns", "late");
      await Promise.resolve();
      c.inc(7);
    })();
    enterMetricsContainer(outer);
    await later;
    expect(a.values()).toMatchObject([{ step: "A", name: "late", value: 7 }]);
  });

  it("keep labels apart, in a fixed order, and sum, distribute and set", () => {
    const c = new MetricsContainer("S");
    c.counter("m", "dead", { field: "user_id", kind: "x" }).inc();
    c.counter("m", "dead", { kind: "x", field: "user_id" }).inc();
    c.counter("m", "dead", { field: "event_time", kind: "x" }).inc();
    const d = c.distribution("m", "latency");
    for (const v of [3, 1, 2]) d.update(v);
    c.gauge("m", "newest").set(42);
    const values = c.values();
    expect(values.filter((v) => v.name === "dead")).toEqual([
      { step: "S", namespace: "m", name: "dead", labels: { field: "user_id", kind: "x" }, kind: "counter", value: 2 },
      {
        step: "S",
        namespace: "m",
        name: "dead",
        labels: { field: "event_time", kind: "x" },
        kind: "counter",
        value: 1,
      },
    ]);
    expect(Object.keys((values[0] as { labels: object }).labels)).toEqual(["field", "kind"]);
    expect(values.find((v) => v.name === "latency")).toMatchObject({
      kind: "distribution",
      count: 3,
      sum: 6,
      min: 1,
      max: 3,
    });
    expect(values.find((v) => v.name === "newest")).toMatchObject({ kind: "gauge", value: 42 });
  });

  it("refuse one name as two kinds, naming it", () => {
    const c = new MetricsContainer("S");
    c.counter("m", "x");
    expect(() => c.gauge("m", "x")).toThrow('metric m/x in step "S" is already a counter');
  });

  it("take a bundle's changes for the Fn API: a counter also once at 0, so the runner knows it as the direct runner does", () => {
    const c = new MetricsContainer("S");
    const errors = c.counter("m", "errors");
    const rows = c.counter("m", "rows");
    c.distribution("m", "ms");
    rows.inc(3);
    const counter = (name: string, value: number) =>
      ({ step: "S", namespace: "m", name, labels: {}, kind: "counter", value }) as const;
    expect(c.takeValues()).toEqual([counter("errors", 0), counter("rows", 3)]);
    expect(c.takeValues()).toEqual([]);
    errors.inc();
    expect(c.takeValues()).toEqual([counter("errors", 1)]);
  });
});
