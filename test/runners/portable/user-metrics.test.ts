/**
 * User metrics (`core/metrics.ts`) through the Fn API: reported per bundle by the worker as monitoring infos,
 * summed by Prism, read back with the Job API's GetJobMetrics: equal to the direct runner's for the same pipeline.
 */
import { type DescEnumValue, getOption } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import type { CombineFn } from "../../../core/combine-fn.ts";
import type { KV } from "../../../core/kv.ts";
import { Metrics, type UserMetric } from "../../../core/metrics.ts";
import { Pipeline } from "../../../core/pipeline.ts";
import { type ValueStateSpec, valueState } from "../../../core/state.ts";
import { DirectRunner } from "../../../runners/direct/direct-runner.ts";
import { runOnPrism } from "../../../runners/portable/prism-runner.ts";
import {
  MonitoringInfoSpecs_EnumSchema,
  monitoring_info_spec,
} from "../../../runners/portable/proto/generated/org/apache/beam/model/pipeline/v1/metrics_pb.ts";
import {
  processBundleMsecsInfo,
  processingMsecsOf,
  userMetricsOf,
  userMonitoringInfos,
} from "../../../runners/portable/user-metrics.ts";
import { combinePerKey } from "../../../transforms/combine.ts";
import { map } from "../../../transforms/element-wise.ts";
import { parDo } from "../../../transforms/par-do.ts";
import { create } from "../../../transforms/read.ts";
import { statefulParDo } from "../../../transforms/stateful-par-do.ts";
import { usePrism } from "./prism-fixture.ts";

/** Numbers 1..200 counted by parity, their sizes as a distribution, a gauge, and a stateful step's own counter. */
function build(): Pipeline {
  const p = Pipeline.create();
  p.apply(create(Array.from({ length: 200 }, (_, i) => i + 1)), "Numbers")
    .apply(
      parDo<number, [string, number]>({
        process(x, ctx) {
          Metrics.counter("test", "seen", { parity: x % 2 === 0 ? "even" : "odd" }).inc();
          Metrics.distribution("test", "size").update(x);
          Metrics.gauge("test", "constant").set(42.5);
          ctx.output([`k${x % 3}`, x]);
        },
      }),
      "Count",
    )
    .apply(
      statefulParDo<string, number, number, { n: ValueStateSpec<number> }>({
        state: { n: valueState<number>() },
        process([, x], ctx) {
          const n = (ctx.state.n.read() ?? 0) + 1;
          ctx.state.n.write(n);
          Metrics.counter("test", "keyed").inc(x);
          ctx.output(n);
        },
      }),
      "Keyed",
    )
    .apply(map((n: number) => n, "Pass"));
  return p;
}

const sorted = (ms: readonly UserMetric[]) =>
  ms
    .filter((m) => m.step !== "")
    .map((m) => (m.kind === "gauge" ? { ...m, timestampMs: 0 } : m))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

describe("user metrics through the Fn API", () => {
  const prism = usePrism();

  it("on Prism equal the direct runner's, per step, with their labels", async () => {
    const direct = await new DirectRunner().run(build());
    const onPrism = await runOnPrism(build(), { jobEndpoint: prism().jobEndpoint });
    const expected = [
      { step: "Count", namespace: "test", name: "seen", labels: { parity: "odd" }, kind: "counter", value: 100 },
      { step: "Count", namespace: "test", name: "seen", labels: { parity: "even" }, kind: "counter", value: 100 },
      {
        step: "Count",
        namespace: "test",
        name: "size",
        labels: {},
        kind: "distribution",
        count: 200,
        sum: 20_100,
        min: 1,
        max: 200,
      },
      { step: "Count", namespace: "test", name: "constant", labels: {}, kind: "gauge", value: 42.5, timestampMs: 0 },
      { step: "Keyed", namespace: "test", name: "keyed", labels: {}, kind: "counter", value: 20_100 },
    ] as UserMetric[];
    expect(sorted(direct.user)).toEqual(sorted(expected));
    expect(sorted(onPrism.metrics.user)).toEqual(sorted(expected));
  }, 120_000);

  it("report each step's processing time as Beam's process_bundle_msecs: a busy step gets most of it", async () => {
    let busyMs = 0;
    const p = Pipeline.create();
    p.apply(create(Array.from({ length: 20 }, (_, i) => i)), "Numbers")
      .apply(
        parDo<number, number>({
          process(x, ctx) {
            const t0 = performance.now();
            const end = t0 + 10;
            while (performance.now() < end) {
              // the step's work: 10 ms of this thread
            }
            busyMs += performance.now() - t0;
            ctx.output(x);
          },
        }),
        "Busy",
      )
      .apply(map((x: number) => x + 1, "Trivial"));
    const started = performance.now();
    const run = await runOnPrism(p, { jobEndpoint: prism().jobEndpoint, processingTime: true });
    const wallMs = performance.now() - started;
    const ms = run.processingMs ?? new Map<string, number>();
    const busy = ms.get("Busy") ?? 0;
    const trivial = ms.get("Trivial") ?? 0;
    const context = JSON.stringify({ busy, trivial, busyMs, wallMs, all: [...ms] });
    // Both DoFn steps are reported (Prism summed the bundles' infos per transform), whole milliseconds.
    expect([...ms.keys()].sort(), context).toEqual(["Busy", "Trivial"]);
    expect(busyMs, context).toBeGreaterThanOrEqual(200);
    // Generous bounds that still fail when the time goes elsewhere (the worker runs in this process, so the busy
    // step's own measure is the reference): at least half of it, no more than the job's wall time, >5x the trivial.
    expect(busy, context).toBeGreaterThanOrEqual(0.5 * busyMs);
    expect(busy, context).toBeLessThanOrEqual(wallMs);
    expect(busy, context).toBeGreaterThan(5 * trivial);
  }, 120_000);

  it("give a busy CombineFn's time and Metrics to the combine (Prism's lifted parts), not to the ParDo before it", async () => {
    let addMs = 0;
    const build = () => {
      const heavy: CombineFn<number, number, number> = {
        createAccumulator: () => 0,
        addInput(acc, v) {
          const t0 = performance.now();
          while (performance.now() < t0 + 1) {
            // the CombineFn's work: 1 ms of this thread
          }
          addMs += performance.now() - t0;
          Metrics.counter("test", "added").inc();
          return acc + v;
        },
        mergeAccumulators: (accs) => accs.reduce((a, b) => a + b, 0),
        extractOutput: (acc) => acc,
      };
      const p = Pipeline.create();
      p.apply(create(Array.from({ length: 200 }, (_, i) => i)), "Numbers")
        .apply(map((x: number): KV<string, number> => [String(x % 5), x], "KeyIt"))
        .apply(combinePerKey(heavy, "HeavyCombine"));
      return p;
    };
    const run = await runOnPrism(build(), { jobEndpoint: prism().jobEndpoint, processingTime: true });
    const ms = run.processingMs ?? new Map<string, number>();
    const context = JSON.stringify({ addMs, all: [...ms] });
    expect(addMs, context).toBeGreaterThanOrEqual(200);
    expect(ms.get("HeavyCombine"), context).toBeGreaterThanOrEqual(0.5 * addMs);
    expect(ms.get("KeyIt"), context).toBeLessThan(0.2 * (ms.get("HeavyCombine") ?? 0));
    // The CombineFn's counter is the combine step's, on Prism (its lifted parts' summed) as on the direct runner.
    const added = { step: "HeavyCombine", namespace: "test", name: "added", labels: {}, kind: "counter", value: 200 };
    expect(run.metrics.user).toContainEqual(added);
    expect((await new DirectRunner().run(build())).user).toContainEqual(added);
  }, 120_000);

  it("encode processing time as Beam's process_bundle_msecs and read it back per step", () => {
    const info = processBundleMsecsInfo("t3", 300);
    expect(info).toMatchObject({
      urn: "beam:metric:pardo_execution_time:process_bundle_msecs:v1",
      type: "beam:metrics:sum_int64:v1",
      labels: { PTRANSFORM: "t3" },
    });
    expect(Buffer.from(info.payload).toString("hex")).toBe("ac02");
    // The standard spec, as Beam's own protos describe it: its URN, type and required label.
    const spec = getOption(
      MonitoringInfoSpecs_EnumSchema.values.find((v) => v.name === "PROCESS_BUNDLE_MSECS") as DescEnumValue,
      monitoring_info_spec,
    );
    expect([info.urn, info.type, Object.keys(info.labels)]).toEqual([spec.urn, spec.type, spec.requiredLabels]);
    const infos = [info, processBundleMsecsInfo("t4", 2), processBundleMsecsInfo("t3", 5)];
    expect(processingMsecsOf(infos, (id) => (id === "t3" ? "Busy" : undefined))).toEqual(
      new Map([
        ["Busy", 305],
        ["t4", 2],
      ]),
    );
  });

  it("round-trip through monitoring infos, negative counters and labels included", () => {
    const ms: UserMetric[] = [
      { step: "s", namespace: "n", name: "c", labels: { a: "1", b: "x y" }, kind: "counter", value: -5 },
      { step: "s", namespace: "n", name: "d", labels: {}, kind: "distribution", count: 2, sum: -1, min: -3, max: 2 },
      { step: "s", namespace: "n", name: "g", labels: {}, kind: "gauge", value: 1.5, timestampMs: 1_700_000_000_000 },
    ];
    const infos = userMonitoringInfos("t7", ms);
    expect(infos.map((i) => [i.urn, i.labels.NAME])).toEqual([
      ["beam:metric:user:sum_int64:v1", "c{a=1,b=x y}"],
      ["beam:metric:user:distribution_int64:v1", "d"],
      ["beam:metric:user:latest_double:v1", "g"],
    ]);
    expect(userMetricsOf(infos, (id) => (id === "t7" ? "s" : undefined))).toEqual(ms);
    // Beam's encodings, byte for byte: an int64 varint of -5 is ten bytes; latest_double is varint time, then the
    // value as a big-endian double.
    const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
    expect(hex((infos[0] as { payload: Uint8Array }).payload)).toBe("fbffffffffffffffff01");
    expect(hex((infos[1] as { payload: Uint8Array }).payload)).toBe(
      "02" + "ffffffffffffffffff01" + "fdffffffffffffffff01" + "02",
    );
    expect(hex((infos[2] as { payload: Uint8Array }).payload)).toBe("80d095ffbc31" + "3ff8000000000000");
  });

  it("keep labels whose text has the name's own separators", () => {
    const labels = { "a,b": "x=y", "{k}": "v\\,}" };
    const m: UserMetric = { step: "s", namespace: "n", name: "c", labels, kind: "counter", value: 1 };
    expect(userMetricsOf(userMonitoringInfos("t", [m]), () => "s")).toEqual([m]);
  });
});
