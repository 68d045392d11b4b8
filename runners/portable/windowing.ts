import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { type Duration, DurationSchema, type Timestamp, TimestampSchema } from "@bufbuild/protobuf/wkt";
import type { Trigger } from "../../core/triggers/trigger.ts";
import { assertNever } from "../../core/util/assert-never.ts";
import type { WindowingStrategy } from "../../core/windowing-strategy.ts";
import type { WindowFn } from "../../core/windows/window-fn.ts";
import {
  AccumulationMode_Enum,
  ClosingBehavior_Enum,
  type FunctionSpec,
  type FunctionSpecSchema,
  MergeStatus_Enum,
  OnTimeBehavior_Enum,
  OutputTime_Enum,
  type Trigger as TriggerProto,
  TriggerSchema,
  type WindowingStrategySchema,
} from "./proto/generated/org/apache/beam/model/pipeline/v1/beam_runner_api_pb.ts";
import {
  FixedWindowsPayloadSchema,
  SessionWindowsPayloadSchema,
  SlidingWindowsPayloadSchema,
} from "./proto/generated/org/apache/beam/model/pipeline/v1/standard_window_fns_pb.ts";
import { URNS } from "./urns.ts";

/** Which of the two standard window coders a strategy's windows use. */
export type WindowCoder = "global" | "interval";

/** A custom (user) window function: assigned in the worker, which finds it by the WindowInto step's name. */
export const TIDEMARK_CUSTOM_WINDOW_FN = "tidemark:window_fn:custom:v1";

/** A Tidemark window function that the portable runner cannot send (a custom one runs SDK-side: not built yet). */
export class UntranslatableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UntranslatableError";
  }
}

const ms = (n: number): Duration =>
  create(DurationSchema, { seconds: BigInt(Math.floor(n / 1000)), nanos: (n % 1000) * 1_000_000 });
const at = (n: number): Timestamp =>
  create(TimestampSchema, { seconds: BigInt(Math.floor(n / 1000)), nanos: (n % 1000) * 1_000_000 });

/** A window function as Beam's standard `FunctionSpec` (URN and payload), its merge status and its window coder. */
export function windowFnSpec(fn: WindowFn): {
  readonly spec: MessageInitShape<typeof FunctionSpecSchema>;
  readonly mergeStatus: MergeStatus_Enum;
  readonly windowCoder: WindowCoder;
} {
  switch (fn.kind) {
    case "global":
      return { spec: { urn: URNS.windowFns.global }, mergeStatus: MergeStatus_Enum.NON_MERGING, windowCoder: "global" };
    case "fixed":
      return {
        spec: {
          urn: URNS.windowFns.fixed,
          payload: toBinary(
            FixedWindowsPayloadSchema,
            create(FixedWindowsPayloadSchema, { size: ms(fn.sizeMs), offset: at(fn.offsetMs) }),
          ),
        },
        mergeStatus: MergeStatus_Enum.NON_MERGING,
        windowCoder: "interval",
      };
    case "sliding":
      return {
        spec: {
          urn: URNS.windowFns.sliding,
          payload: toBinary(
            SlidingWindowsPayloadSchema,
            create(SlidingWindowsPayloadSchema, {
              size: ms(fn.sizeMs),
              period: ms(fn.periodMs),
              offset: at(fn.offsetMs),
            }),
          ),
        },
        mergeStatus: MergeStatus_Enum.NON_MERGING,
        windowCoder: "interval",
      };
    case "sessions":
      return {
        spec: {
          urn: URNS.windowFns.sessions,
          payload: toBinary(
            SessionWindowsPayloadSchema,
            create(SessionWindowsPayloadSchema, { gapSize: ms(fn.gapMs) }),
          ),
        },
        mergeStatus: MergeStatus_Enum.NEEDS_MERGE,
        windowCoder: "interval",
      };
    case "merged": {
      // After a grouping over a merging window function the windows are final: Beam's ALREADY_MERGED.
      const from = windowFnSpec(fn.from);
      return { ...from, mergeStatus: MergeStatus_Enum.ALREADY_MERGED };
    }
    case "custom":
      if (fn.fn.merge !== undefined) {
        throw new UntranslatableError(
          `the merging custom window function ${fn.fn.name} needs the runner to merge windows in the SDK ` +
            "(beam:transform:merge_windows:v1), which Prism v2.77.0 does not do (it merges only standard session " +
            "windows); use session windows, or a custom function that does not merge",
        );
      }
      // Assigned in the worker (the WindowInto step runs the function by step name); its windows are interval
      // windows, as the runner must decode them.
      return {
        spec: {
          urn: TIDEMARK_CUSTOM_WINDOW_FN,
          payload: new TextEncoder().encode(JSON.stringify({ name: fn.fn.name })),
        },
        mergeStatus: MergeStatus_Enum.NON_MERGING,
        windowCoder: "interval",
      };
    default:
      return assertNever(fn);
  }
}

/** A trigger as Beam's `Trigger` proto (the whole algebra). */
export function triggerProto(t: Trigger): TriggerProto {
  return create(TriggerSchema, triggerInit(t));
}

function triggerInit(t: Trigger): MessageInitShape<typeof TriggerSchema> {
  switch (t.type) {
    case "default":
      return { trigger: { case: "default", value: {} } };
    case "never":
      return { trigger: { case: "never", value: {} } };
    case "afterWatermark":
      return {
        trigger: {
          case: "afterEndOfWindow",
          value: {
            ...(t.early === undefined ? {} : { earlyFirings: triggerInit(t.early) }),
            ...(t.late === undefined ? {} : { lateFirings: triggerInit(t.late) }),
          },
        },
      };
    case "afterCount":
      return { trigger: { case: "elementCount", value: { elementCount: t.count } } };
    case "afterProcessingTime":
      return {
        trigger: {
          case: "afterProcessingTime",
          value: {
            timestampTransforms: [
              { timestampTransform: { case: "delay", value: { delayMillis: BigInt(t.delay) } } },
              ...(t.alignToMs === undefined
                ? []
                : [
                    {
                      timestampTransform: {
                        case: "alignTo" as const,
                        value: { period: BigInt(t.alignToMs), offset: BigInt(t.alignOffsetMs ?? 0) },
                      },
                    },
                  ]),
            ],
          },
        },
      };
    case "afterSynchronizedProcessingTime":
      return { trigger: { case: "afterSynchronizedProcessingTime", value: {} } };
    case "repeatedly":
      return { trigger: { case: "repeat", value: { subtrigger: triggerInit(t.trigger) } } };
    case "afterEach":
      return { trigger: { case: "afterEach", value: { subtriggers: t.triggers.map(triggerInit) } } };
    case "afterAny":
      return { trigger: { case: "afterAny", value: { subtriggers: t.triggers.map(triggerInit) } } };
    case "afterAll":
      return { trigger: { case: "afterAll", value: { subtriggers: t.triggers.map(triggerInit) } } };
    case "orFinally":
      return { trigger: { case: "orFinally", value: { main: triggerInit(t.main), finally: triggerInit(t.until) } } };
    default:
      return assertNever(t);
  }
}

/**
 * A windowing strategy as Beam's `WindowingStrategy` proto, the window coder given by id (the translation owns the
 * coders). Time is epoch milliseconds on both sides.
 */
export function windowingStrategyProto(
  s: WindowingStrategy,
  coderIds: Readonly<Record<WindowCoder, string>>,
  environmentId: string,
): MessageInitShape<typeof WindowingStrategySchema> {
  const fn = windowFnSpec(s.windowFn);
  return {
    windowFn: fn.spec as FunctionSpec,
    mergeStatus: fn.mergeStatus,
    windowCoderId: coderIds[fn.windowCoder],
    trigger: triggerProto(s.trigger),
    accumulationMode:
      s.accumulation === "accumulating" ? AccumulationMode_Enum.ACCUMULATING : AccumulationMode_Enum.DISCARDING,
    outputTime:
      s.timestampCombiner === "earliest"
        ? OutputTime_Enum.EARLIEST_IN_PANE
        : s.timestampCombiner === "latest"
          ? OutputTime_Enum.LATEST_IN_PANE
          : OutputTime_Enum.END_OF_WINDOW,
    closingBehavior:
      s.closingBehavior === "fireAlways" ? ClosingBehavior_Enum.EMIT_ALWAYS : ClosingBehavior_Enum.EMIT_IF_NONEMPTY,
    onTimeBehavior:
      s.onTimeBehavior === "fireIfNonEmpty" ? OnTimeBehavior_Enum.FIRE_IF_NONEMPTY : OnTimeBehavior_Enum.FIRE_ALWAYS,
    allowedLateness: BigInt(s.allowedLatenessMs),
    assignsToOneWindow: s.windowFn.kind !== "sliding",
    environmentId,
  };
}
