import { spawnSync } from "node:child_process";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  type Pipeline as PipelineProto,
  PipelineSchema,
} from "../../../runners/portable/proto/generated/org/apache/beam/model/pipeline/v1/beam_runner_api_pb.ts";
import { URNS } from "../../../runners/portable/urns.ts";

describe("Beam's portability API, generated from Beam v2.77.0's own descriptors", () => {
  it("the URN table reads Beam's standard URNs from the descriptors' beam_urn options", () => {
    // The strings Beam's runners match on (Beam's runner API protos, standard_window_fns.proto).
    expect(URNS.primitives.PAR_DO).toBe("beam:transform:pardo:v1");
    expect(URNS.primitives.GROUP_BY_KEY).toBe("beam:transform:group_by_key:v1");
    expect(URNS.primitives.IMPULSE).toBe("beam:transform:impulse:v1");
    expect(URNS.primitives.ASSIGN_WINDOWS).toBe("beam:transform:window_into:v1");
    expect(URNS.primitives.TEST_STREAM).toBe("beam:transform:teststream:v1");
    expect(URNS.primitives.MERGE_WINDOWS).toBe("beam:transform:merge_windows:v1");
    expect(URNS.composites.COMBINE_PER_KEY).toBe("beam:transform:combine_per_key:v1");
    expect(URNS.composites.RESHUFFLE).toBe("beam:transform:reshuffle:v1");
    expect(URNS.coders.BYTES).toBe("beam:coder:bytes:v1");
    expect(URNS.coders.WINDOWED_VALUE).toBe("beam:coder:windowed_value:v1");
    expect(URNS.coders.LENGTH_PREFIX).toBe("beam:coder:length_prefix:v1");
    expect(URNS.coders.TIMER).toBe("beam:coder:timer:v1");
    expect(URNS.sideInputs.MULTIMAP).toBe("beam:side_input:multimap:v1");
    expect(URNS.userState.BAG).toBe("beam:user_state:bag:v1");
    expect(URNS.userState.ORDERED_LIST).toBe("beam:user_state:ordered_list:v1");
    expect(URNS.requirements.REQUIRES_STABLE_INPUT).toBe("beam:requirement:pardo:stable_input:v1");
    expect(URNS.requirements.REQUIRES_BUNDLE_FINALIZATION).toBe("beam:requirement:pardo:finalization:v1");
    expect(URNS.environments.EXTERNAL).toBe("beam:env:external:v1");
    expect(URNS.windowFns).toEqual({
      global: "beam:window_fn:global_windows:v1",
      fixed: "beam:window_fn:fixed_windows:v1",
      sliding: "beam:window_fn:sliding_windows:v1",
      sessions: "beam:window_fn:session_windows:v1",
    });
  });

  it("a Pipeline message survives the wire: encoded and decoded, the same message", () => {
    const p: PipelineProto = create(PipelineSchema, {
      rootTransformIds: ["t1"],
      requirements: [URNS.requirements.REQUIRES_STABLE_INPUT as string],
      components: {
        transforms: {
          t1: { uniqueName: "Read", spec: { urn: URNS.primitives.IMPULSE as string }, outputs: { out: "pc1" } },
        },
        pcollections: { pc1: { uniqueName: "Read.out", coderId: "c1", isBounded: 2, windowingStrategyId: "w" } },
        coders: { c1: { spec: { urn: URNS.coders.BYTES as string } } },
      },
    });
    const back = fromBinary(PipelineSchema, toBinary(PipelineSchema, p));
    expect(back).toEqual(p);
    expect(back.components?.transforms.t1?.spec?.urn).toBe("beam:transform:impulse:v1");
  });

  it("the committed generated code is what scripts/gen-protos.sh makes from Beam v2.77.0 (Go and buf, no network beyond the registries)", () => {
    const r = spawnSync("bash", ["scripts/gen-protos.sh", "--check"], { encoding: "utf8", timeout: 280_000 });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain("gen-protos: up to date");
  }, 300_000);
});
