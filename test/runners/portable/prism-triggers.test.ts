import { describe, expect, it } from "vitest";
import type { KV } from "../../../core/kv.ts";
import { Pipeline } from "../../../core/pipeline.ts";
import { minutes, seconds } from "../../../core/time/duration.ts";
import {
  afterCount,
  afterProcessingTime,
  afterWatermark,
  defaultTrigger,
  never,
  repeatedly,
  type Trigger,
} from "../../../core/triggers/trigger.ts";
import { fixed, sessions, type WindowFn } from "../../../core/windows/window-fn.ts";
import { TestStream } from "../../../io/test-stream/test-stream.ts";
import { ServiceClient } from "../../../runners/portable/grpc.ts";
import { JobService } from "../../../runners/portable/proto/generated/org/apache/beam/model/job_management/v1/beam_job_api_pb.ts";
import { translate } from "../../../runners/portable/translate.ts";
import { URNS } from "../../../runners/portable/urns.ts";
import { groupByKey } from "../../../transforms/group-by-key.ts";
import { read } from "../../../transforms/read.ts";
import { window } from "../../../transforms/window-into.ts";
import { usePrism } from "./prism-fixture.ts";

const prism = usePrism();

const TRIGGERS: readonly (readonly [string, Trigger])[] = [
  ["default", defaultTrigger()],
  ["afterWatermark()", afterWatermark()],
  ["afterWatermark(late: afterCount(1))", afterWatermark({ late: afterCount(1) })],
  ["afterWatermark(early: afterProcessingTime(5 s))", afterWatermark({ early: afterProcessingTime(seconds(5)) })],
  ["repeatedly(afterCount(2))", repeatedly(afterCount(2))],
  ["repeatedly(afterProcessingTime(5 s))", repeatedly(afterProcessingTime(seconds(5)))],
  ["afterCount(2)", afterCount(2)],
  ["never", never()],
];

/** What Prism v2.77.0's Prepare answers for a GroupByKey under `windowFn` and `trigger`. */
async function prepare(windowFn: WindowFn, trigger: Trigger): Promise<string> {
  const p = Pipeline.create();
  p.apply(read(TestStream.create<KV<string, number>>().addElements({ value: ["a", 1], timestamp: 0 })))
    .apply(window<KV<string, number>>(windowFn, { trigger, allowedLatenessMs: minutes(10) }))
    .apply(groupByKey<string, number>());
  const pipeline = translate(p.graph(), { urn: URNS.environments.EXTERNAL as string }, { stableInput: "omit" });
  const jobs = new ServiceClient(JobService, prism().jobEndpoint);
  try {
    return await jobs.unary("prepare", { jobName: "triggers", pipeline }).then(
      () => "accepted",
      (e: unknown) =>
        /stateful triggers with merging windows/.test((e as Error).message)
          ? "refused: stateful trigger on merging windows"
          : `refused: ${(e as Error).message}`,
    );
  } finally {
    jobs.close();
  }
}

describe("which triggers Prism v2.77.0 accepts (Prepare), measured so that a change on either side shows", () => {
  it("session windows: only the default trigger, afterWatermark() without early or late firings, and never", async () => {
    const table: Record<string, string> = {};
    for (const [name, t] of TRIGGERS) table[name] = await prepare(sessions(minutes(30)), t);
    const refused = "refused: stateful trigger on merging windows";
    expect(table).toEqual({
      default: "accepted",
      "afterWatermark()": "accepted",
      "afterWatermark(late: afterCount(1))": refused,
      "afterWatermark(early: afterProcessingTime(5 s))": refused,
      "repeatedly(afterCount(2))": refused,
      "repeatedly(afterProcessingTime(5 s))": refused,
      "afterCount(2)": refused,
      never: "accepted",
    });
  });

  it("fixed windows: every one of them", async () => {
    for (const [name, t] of TRIGGERS) expect(await prepare(fixed(minutes(1)), t), name).toBe("accepted");
  });
});
