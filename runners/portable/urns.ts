import { type DescEnum, getOption, hasOption } from "@bufbuild/protobuf";
import { MonitoringInfoSpecs_EnumSchema } from "./proto/generated/org/apache/beam/model/pipeline/v1/metrics_pb.ts";
import {
  beam_urn,
  StandardCoders_EnumSchema,
  StandardEnvironments_EnvironmentsSchema,
  StandardProtocols_EnumSchema,
  StandardPTransforms_CombineComponentsSchema,
  StandardPTransforms_CompositesSchema,
  StandardPTransforms_PrimitivesSchema,
  StandardPTransforms_SplittableParDoComponentsSchema,
  StandardRequirements_EnumSchema,
  StandardRunnerProtocols_EnumSchema,
  StandardSideInputTypes_EnumSchema,
  StandardUserStateTypes_EnumSchema,
} from "./proto/generated/org/apache/beam/model/pipeline/v1/beam_runner_api_pb.ts";
import {
  FixedWindowsPayload_EnumSchema,
  GlobalWindowsPayload_EnumSchema,
  SessionWindowsPayload_EnumSchema,
  SlidingWindowsPayload_EnumSchema,
} from "./proto/generated/org/apache/beam/model/pipeline/v1/standard_window_fns_pb.ts";

/** The URNs an enum's values carry in Beam's `beam_urn` option, by value name. */
function urnsOf(schema: DescEnum): Readonly<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const v of schema.values) if (hasOption(v, beam_urn)) out[v.name] = getOption(v, beam_urn);
  return Object.freeze(out);
}

/**
 * Beam's standard URNs (v2.77.0), read from the `beam_urn` options of the enums in Beam's own descriptors, so they
 * cannot drift from the protos the runner speaks: `URNS.primitives.PAR_DO` is `beam:transform:pardo:v1`,
 * `URNS.coders.BYTES` is `beam:coder:bytes:v1`, `URNS.windowFns.sessions` is `beam:window_fn:session_windows:v1`.
 * Standard URNs only; Tidemark's own (its value coder, its DoFns) are defined where they are used.
 */
export const URNS = Object.freeze({
  primitives: urnsOf(StandardPTransforms_PrimitivesSchema),
  composites: urnsOf(StandardPTransforms_CompositesSchema),
  combineComponents: urnsOf(StandardPTransforms_CombineComponentsSchema),
  splittableParDoComponents: urnsOf(StandardPTransforms_SplittableParDoComponentsSchema),
  sideInputs: urnsOf(StandardSideInputTypes_EnumSchema),
  userState: urnsOf(StandardUserStateTypes_EnumSchema),
  coders: urnsOf(StandardCoders_EnumSchema),
  environments: urnsOf(StandardEnvironments_EnvironmentsSchema),
  protocols: urnsOf(StandardProtocols_EnumSchema),
  runnerProtocols: urnsOf(StandardRunnerProtocols_EnumSchema),
  requirements: urnsOf(StandardRequirements_EnumSchema),
  monitoringInfos: urnsOf(MonitoringInfoSpecs_EnumSchema),
  windowFns: Object.freeze({
    global: urnsOf(GlobalWindowsPayload_EnumSchema).PROPERTIES as string,
    fixed: urnsOf(FixedWindowsPayload_EnumSchema).PROPERTIES as string,
    sliding: urnsOf(SlidingWindowsPayload_EnumSchema).PROPERTIES as string,
    sessions: urnsOf(SessionWindowsPayload_EnumSchema).PROPERTIES as string,
  }),
});
