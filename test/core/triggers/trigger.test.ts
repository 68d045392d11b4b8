import { describe, expect, it } from "vitest";
import {
  afterAll,
  afterAny,
  afterCount,
  afterEach,
  afterProcessingTime,
  afterWatermark,
  continuationTrigger,
  defaultTrigger,
  describeTrigger,
  mayFinish,
  never,
  orFinally,
  repeatedly,
  type Trigger,
  triggerProblems,
} from "../../../core/triggers/trigger.ts";

describe("triggerProblems", () => {
  it.each<[string, Trigger]>([
    ["default", defaultTrigger()],
    ["never", never()],
    ["afterWatermark with early and late", afterWatermark({ early: afterCount(1), late: never() })],
    ["afterCount(1)", afterCount(1)],
    ["afterProcessingTime(0)", afterProcessingTime(0)],
    ["repeatedly(afterCount(2))", repeatedly(afterCount(2))],
    ["afterEach ending in a never-finishing step", afterEach(afterCount(1), repeatedly(afterCount(1)))],
    ["afterAny with a never", afterAny(never(), afterCount(1))],
    ["orFinally", orFinally(repeatedly(afterCount(1)), afterWatermark())],
  ])("accepts %s", (_, t) => {
    expect(triggerProblems(t)).toEqual([]);
  });

  it("rejects afterCount(0), naming the path", () => {
    expect(triggerProblems(afterCount(0))).toEqual(["trigger: afterCount needs a whole count of at least 1, got 0"]);
  });

  it("rejects a fractional or negative count", () => {
    expect(triggerProblems(afterCount(1.5))).toEqual([expect.stringMatching(/afterCount .* got 1.5/)]);
    expect(triggerProblems(afterCount(-2))).toEqual([expect.stringMatching(/afterCount .* got -2/)]);
  });

  it("rejects a negative delay, inside a composite, with its path", () => {
    expect(triggerProblems(afterWatermark({ early: afterProcessingTime(-1) }))).toEqual([
      "trigger.early: afterProcessingTime needs a delay of 0 ms or more, got -1",
    ]);
  });

  it("rejects a non-positive alignment period", () => {
    expect(triggerProblems(afterProcessingTime(5, { toMs: 0 }))).toEqual([
      expect.stringMatching(/alignment must be a positive period, got 0/),
    ]);
  });

  it.each(["afterEach", "afterAny", "afterAll"] as const)("rejects an empty %s", (type) => {
    expect(triggerProblems({ type, triggers: [] })).toEqual([`trigger: ${type} needs at least one sub-trigger`]);
  });

  it("rejects an afterEach step that comes after a step that never finishes", () => {
    const problems = triggerProblems(afterEach(afterCount(1), repeatedly(afterCount(2)), afterCount(3)));
    expect(problems).toEqual([
      "trigger.triggers[2]: can never fire, because afterEach step 1 (repeatedly) never finishes",
    ]);
  });

  it("rejects an afterEach step after a default or late-firing watermark step", () => {
    expect(triggerProblems(afterEach(defaultTrigger(), afterCount(1)))).toHaveLength(1);
    expect(triggerProblems(afterEach(afterWatermark({ late: afterCount(1) }), afterCount(1)))).toHaveLength(1);
  });

  it("rejects a trigger that can never fire: repeatedly(never), afterAll with a never", () => {
    expect(triggerProblems(repeatedly(never()))).toEqual(["trigger: repeatedly(never) can never fire"]);
    expect(triggerProblems(afterAll(afterCount(1), never()))).toEqual([
      "trigger.triggers[1]: afterAll can never fire because never never fires",
    ]);
  });

  it("reports every problem of a tree, each with its own path", () => {
    const problems = triggerProblems(
      afterWatermark({ early: afterAny(afterCount(0), afterProcessingTime(-5)), late: afterAll() }),
    );
    expect(problems).toEqual([
      "trigger.early.triggers[0]: afterCount needs a whole count of at least 1, got 0",
      "trigger.early.triggers[1]: afterProcessingTime needs a delay of 0 ms or more, got -5",
      "trigger.late: afterAll needs at least one sub-trigger",
    ]);
  });
});

describe("mayFinish", () => {
  it.each<[string, Trigger, boolean]>([
    ["default", defaultTrigger(), false],
    ["never", never(), false],
    ["repeatedly", repeatedly(afterCount(1)), false],
    ["afterWatermark()", afterWatermark(), true],
    ["afterWatermark with late", afterWatermark({ late: never() }), false],
    ["afterWatermark with only early", afterWatermark({ early: afterCount(1) }), true],
    ["afterCount", afterCount(3), true],
    ["afterProcessingTime", afterProcessingTime(1), true],
    ["afterEach all finishing", afterEach(afterCount(1), afterCount(2)), true],
    ["afterEach ending in repeatedly", afterEach(afterCount(1), repeatedly(afterCount(1))), false],
    ["afterAny with one finishing", afterAny(never(), afterCount(1)), true],
    ["afterAll with a never", afterAll(never(), afterCount(1)), false],
    ["orFinally", orFinally(repeatedly(afterCount(1)), never()), true],
  ])("%s: %s", (_, t, expected) => {
    expect(mayFinish(t)).toBe(expected);
  });
});

describe("continuationTrigger", () => {
  it("turns counts into afterCount(1) and delays into synchronized processing time, keeping the shape", () => {
    expect(continuationTrigger(afterWatermark({ early: afterProcessingTime(100), late: afterCount(5) }))).toEqual(
      afterWatermark({ early: { type: "afterSynchronizedProcessingTime" }, late: afterCount(1) }),
    );
    expect(continuationTrigger(afterEach(afterCount(3), afterCount(4)))).toEqual(
      repeatedly(afterAny(afterCount(1), afterCount(1))),
    );
    expect(continuationTrigger(defaultTrigger())).toEqual(defaultTrigger());
  });
});

describe("describeTrigger", () => {
  it("reads like the builder calls", () => {
    expect(describeTrigger(afterWatermark({ early: afterCount(2), late: never() }))).toBe(
      "afterWatermark(early: afterCount(2), late: never())",
    );
    expect(describeTrigger(repeatedly(afterProcessingTime(50)))).toBe("repeatedly(afterProcessingTime(50ms))");
  });
});
