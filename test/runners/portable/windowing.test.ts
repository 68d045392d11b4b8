import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { hours, minutes, seconds } from "../../../core/time/duration.ts";
import {
  afterAny,
  afterCount,
  afterProcessingTime,
  afterWatermark,
  never,
  orFinally,
  repeatedly,
} from "../../../core/triggers/trigger.ts";
import { DEFAULT_WINDOWING, type WindowingStrategy } from "../../../core/windowing-strategy.ts";
import { fixed, sessions, sliding } from "../../../core/windows/window-fn.ts";
import { parseTranscripts, windowFnOf } from "../../../runners/direct/conformance.ts";
import {
  AccumulationMode_Enum,
  MergeStatus_Enum,
  OutputTime_Enum,
  WindowingStrategySchema,
} from "../../../runners/portable/proto/generated/org/apache/beam/model/pipeline/v1/beam_runner_api_pb.ts";
import {
  FixedWindowsPayloadSchema,
  SessionWindowsPayloadSchema,
  SlidingWindowsPayloadSchema,
} from "../../../runners/portable/proto/generated/org/apache/beam/model/pipeline/v1/standard_window_fns_pb.ts";
import {
  TIDEMARK_CUSTOM_WINDOW_FN,
  triggerProto,
  UntranslatableError,
  windowingStrategyProto,
} from "../../../runners/portable/windowing.ts";

const CODERS = { global: "global-window", interval: "interval-window" } as const;
const proto = (s: Partial<WindowingStrategy>) =>
  create(WindowingStrategySchema, windowingStrategyProto({ ...DEFAULT_WINDOWING, ...s }, CODERS, "env"));

describe("windowing strategies as Beam's WindowingStrategy proto", () => {
  it("the medallion's Gold sessions: session windows with early processing-time and late count firings", () => {
    const p = proto({
      windowFn: sessions(minutes(30)),
      trigger: afterWatermark({ early: afterProcessingTime(seconds(5)), late: afterCount(1) }),
      accumulation: "accumulating",
      allowedLatenessMs: hours(24),
    });
    expect(p.windowFn?.urn).toBe("beam:window_fn:session_windows:v1");
    const gap = fromBinary(SessionWindowsPayloadSchema, p.windowFn?.payload ?? new Uint8Array()).gapSize;
    expect(gap?.seconds).toBe(1800n);
    expect(p.mergeStatus).toBe(MergeStatus_Enum.NEEDS_MERGE);
    expect(p.windowCoderId).toBe("interval-window");
    expect(p.accumulationMode).toBe(AccumulationMode_Enum.ACCUMULATING);
    expect(p.allowedLateness).toBe(86_400_000n);
    expect(p.outputTime).toBe(OutputTime_Enum.END_OF_WINDOW);
    const t = p.trigger?.trigger;
    expect(t?.case).toBe("afterEndOfWindow");
    if (t?.case !== "afterEndOfWindow") return;
    const early = t.value.earlyFirings?.trigger;
    expect(early?.case).toBe("afterProcessingTime");
    if (early?.case === "afterProcessingTime") {
      expect(early.value.timestampTransforms.map((x) => x.timestampTransform)).toEqual([
        { case: "delay", value: expect.objectContaining({ delayMillis: 5_000n }) },
      ]);
    }
    expect(t.value.lateFirings?.trigger).toEqual({
      case: "elementCount",
      value: expect.objectContaining({ elementCount: 1 }),
    });
  });

  it("fixed and sliding windows carry size, offset and period; the global window its own coder", () => {
    const f = proto({ windowFn: fixed(seconds(90), seconds(30)) });
    const fp = fromBinary(FixedWindowsPayloadSchema, f.windowFn?.payload ?? new Uint8Array());
    expect([fp.size?.seconds, fp.offset?.seconds]).toEqual([90n, 30n]);
    const s = proto({ windowFn: sliding(minutes(10), minutes(1)) });
    const sp = fromBinary(SlidingWindowsPayloadSchema, s.windowFn?.payload ?? new Uint8Array());
    expect([sp.size?.seconds, sp.period?.seconds]).toEqual([600n, 60n]);
    expect(s.assignsToOneWindow).toBe(false);
    expect(proto({}).windowCoderId).toBe("global-window");
    expect(proto({}).windowFn?.urn).toBe("beam:window_fn:global_windows:v1");
  });

  it("the trigger algebra nests as Beam's protos do", () => {
    const t = triggerProto(
      orFinally(
        repeatedly(afterAny(afterCount(2), afterProcessingTime(seconds(1), { toMs: minutes(1), offsetMs: 5 }))),
        never(),
      ),
    );
    expect(t.trigger.case).toBe("orFinally");
    if (t.trigger.case !== "orFinally") return;
    expect(t.trigger.value.finally?.trigger.case).toBe("never");
    const repeat = t.trigger.value.main?.trigger;
    expect(repeat?.case).toBe("repeat");
    if (repeat?.case !== "repeat") return;
    const any = repeat.value.subtrigger?.trigger;
    expect(any?.case).toBe("afterAny");
    if (any?.case !== "afterAny") return;
    expect(any.value.subtriggers.map((s) => s.trigger.case)).toEqual(["elementCount", "afterProcessingTime"]);
    const pt = any.value.subtriggers[1]?.trigger;
    if (pt?.case === "afterProcessingTime") {
      expect(pt.value.timestampTransforms.map((x) => x.timestampTransform.case)).toEqual(["delay", "alignTo"]);
      const align = pt.value.timestampTransforms[1]?.timestampTransform;
      if (align?.case === "alignTo") expect([align.value.period, align.value.offset]).toEqual([60_000n, 5n]);
    }
  });

  it("windows already merged by a grouping are ALREADY_MERGED; a custom window function runs in the worker, a merging one is refused, saying why", () => {
    expect(proto({ windowFn: { kind: "merged", from: sessions(10) } }).mergeStatus).toBe(
      MergeStatus_Enum.ALREADY_MERGED,
    );
    const custom = proto({ windowFn: { kind: "custom", fn: { name: "Hours", assign: () => [] } } });
    expect(custom.windowFn?.urn).toBe(TIDEMARK_CUSTOM_WINDOW_FN);
    expect(custom.mergeStatus).toBe(MergeStatus_Enum.NON_MERGING);
    expect(() =>
      proto({ windowFn: { kind: "custom", fn: { name: "Mine", assign: () => [], merge: () => [] } } }),
    ).toThrow(/merging custom window function Mine needs the runner to merge windows in the SDK/);
    expect(() =>
      proto({ windowFn: { kind: "custom", fn: { name: "Mine", assign: () => [], merge: () => [] } } }),
    ).toThrow(UntranslatableError);
  });

  it("every conformance transcript's strategy (test/conformance/cases, derived from Beam's tests) translates and survives the wire", () => {
    const dir = "test/conformance/cases";
    let n = 0;
    for (const f of readdirSync(dir).filter((x) => x.endsWith(".json"))) {
      for (const c of parseTranscripts(readFileSync(join(dir, f), "utf8"), f)) {
        const p = proto({
          windowFn: windowFnOf(c),
          trigger: c.trigger,
          accumulation: c.accumulation,
          allowedLatenessMs: c.allowedLatenessMs,
          timestampCombiner: c.timestampCombiner,
        });
        expect(fromBinary(WindowingStrategySchema, toBinary(WindowingStrategySchema, p))).toEqual(p);
        n++;
      }
    }
    expect(n).toBeGreaterThan(20);
  });
});
