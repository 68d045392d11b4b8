import { describe, expect, it } from "vitest";
import type { KV } from "../../core/kv.ts";
import { Pipeline } from "../../core/pipeline.ts";
import {
  afterAll,
  afterAny,
  afterCount,
  afterEach,
  afterProcessingTime,
  afterWatermark,
  never,
  repeatedly,
} from "../../core/triggers/trigger.ts";
import { DEFAULT_WINDOWING } from "../../core/windowing-strategy.ts";
import { fixed, sessions, sliding } from "../../core/windows/window-fn.ts";
import { create } from "../../transforms/read.ts";
import { validateWindowing, window } from "../../transforms/window-into.ts";
import { buildError } from "./build-errors.ts";

const input = () => Pipeline.create().apply(create<KV<string, number>>([["a", 1]]));

describe("window(...): build-time errors name the transform and the problem", () => {
  it("a negative session gap", () => {
    const e = buildError(() => input().apply(window(sessions(-5)), "Sessionize"));
    expect(e.transform).toBe("Sessionize");
    expect(e.message).toBe("Sessionize: session gap must be a positive whole number of ms, got -5");
  });

  it("a zero fixed window size, under the default name", () => {
    const e = buildError(() => input().apply(window(fixed(0))));
    expect(e.message).toBe("Window: fixed window size must be a positive whole number of ms, got 0");
  });

  it("a zero sliding period", () => {
    const e = buildError(() => input().apply(window(sliding(10, 0), {}, "Slide")));
    expect(e.message).toMatch(/^Slide: sliding window period must be a positive whole number of ms, got 0$/);
  });

  it("a trigger that can never fire", () => {
    const e = buildError(() => input().apply(window(fixed(10), { trigger: repeatedly(never()) }), "Win"));
    expect(e.message).toBe("Win: trigger: repeatedly(never) can never fire");
  });

  it("an afterAll that waits on a never", () => {
    const e = buildError(() => input().apply(window(fixed(10), { trigger: afterAll(afterCount(1), never()) })));
    expect(e.message).toMatch(/^Window: trigger\.triggers\[1\]: afterAll can never fire/);
  });

  it("afterCount(0) inside an early trigger", () => {
    const e = buildError(() =>
      input().apply(window(fixed(10), { trigger: afterWatermark({ early: afterCount(0) }) }), "Early"),
    );
    expect(e.message).toBe("Early: trigger.early: afterCount needs a whole count of at least 1, got 0");
  });

  it("a negative processing-time delay", () => {
    const e = buildError(() => input().apply(window(fixed(10), { trigger: afterProcessingTime(-1) })));
    expect(e.message).toMatch(/^Window: trigger: afterProcessingTime needs a delay of 0 ms or more, got -1$/);
  });

  it("an afterEach step after a step that never finishes", () => {
    const e = buildError(() =>
      input().apply(window(fixed(10), { trigger: afterEach(repeatedly(afterCount(1)), afterCount(2)) })),
    );
    expect(e.message).toMatch(/trigger\.triggers\[1\]: can never fire, because afterEach step 0 \(repeatedly\)/);
  });

  it("a trigger with more nodes than the engine supports (31)", () => {
    const huge = afterAny(...Array.from({ length: 40 }, () => afterCount(1)));
    const e = buildError(() => input().apply(window(fixed(10), { trigger: huge }), "Huge"));
    expect(e.message).toMatch(/^Huge: .*41 nodes.*31/);
  });

  it("negative allowed lateness", () => {
    const e = buildError(() => input().apply(window(fixed(10), { allowedLatenessMs: -1 })));
    expect(e.message).toBe("Window: allowed lateness must be a whole number of ms, 0 or more, got -1");
  });

  it("lists every problem at once", () => {
    const e = buildError(() =>
      input().apply(window(sessions(0), { trigger: afterCount(0), allowedLatenessMs: -3 }), "Bad"),
    );
    expect(e.message).toBe(
      "Bad: session gap must be a positive whole number of ms, got 0; " +
        "trigger: afterCount needs a whole count of at least 1, got 0; " +
        "allowed lateness must be a whole number of ms, 0 or more, got -3",
    );
  });

  it("inside a composite, the message names the full path", () => {
    const e = buildError(() =>
      input().apply({ name: "Prepare", expand: (pc) => pc.apply(window(fixed(-1)), "Fixed") }),
    );
    expect(e.transform).toBe("Prepare/Fixed");
  });
});

describe("window(...): the strategy it sets", () => {
  it("keeps the input's settings for options not given", () => {
    const first = input().apply(
      window(fixed(10), { trigger: afterCount(2), accumulation: "accumulating", allowedLatenessMs: 5 }),
    );
    const second = first.apply(window(sessions(3)), "Rewindow");
    expect(second.windowing).toEqual({ ...first.windowing, windowFn: sessions(3) });
    expect(second.windowing.trigger).toEqual(afterCount(2));
  });

  it("validateWindowing accepts the default strategy", () => {
    expect(() => validateWindowing("X", DEFAULT_WINDOWING)).not.toThrow();
    expect(() => validateWindowing("X", { ...DEFAULT_WINDOWING, allowedLatenessMs: 0.5 })).toThrow(
      /^X: allowed lateness/,
    );
  });
});
