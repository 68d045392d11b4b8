import { describe, expect, it } from "vitest";
import { ProgressLine } from "../../../pipelines/user-sessions/progress-line.ts";

describe("the command line's progress line", () => {
  it("is redrawn by wall time, whatever the rate of the runner's steps", () => {
    let t = 0;
    const drawn: string[] = [];
    const line = new ProgressLine(
      (s) => drawn.push(s),
      250,
      () => t,
    );
    // The direct runner: a step per source event, 1,000 in 100 ms: drawn once, the text asked for once.
    let asked = 0;
    for (let i = 0; i < 1_000; i++, t += 0.1) line.update(() => `${++asked} steps`);
    expect(drawn).toEqual(["\r1 steps"]);
    // Prism: a step per reading of the job, one a second: each one drawn.
    for (let i = 1; i <= 3; i++) {
      t += 1_000;
      line.update(() => `reading ${i}`);
    }
    expect(drawn.slice(1)).toEqual(["\rreading 1", "\rreading 2", "\rreading 3"]);
  });
});
