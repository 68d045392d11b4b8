import { describe, expect, it } from "vitest";
import { Pipeline } from "../../core/pipeline.ts";
import { TestStream } from "../../io/test-stream/test-stream.ts";
import { RUNNER_OPTIONS, RUNNERS, type RunnerOptions, runnerNamed } from "../../runners/runner.ts";
import { parseOptions } from "../../core/options.ts";
import { parDo } from "../../transforms/par-do.ts";
import { read } from "../../transforms/read.ts";

describe("the runner registry", () => {
  it("runs a graph on the runner the options name", async () => {
    const { options } = parseOptions(RUNNER_OPTIONS, ["--runner=direct"]);
    const seen: number[] = [];
    const p = Pipeline.create();
    p.apply(
      read(TestStream.create<number>().addElements({ value: 1, timestamp: 0 }, { value: 2, timestamp: 1 })),
    ).apply(
      parDo<number, never>({
        process(v) {
          seen.push(v);
        },
      }),
    );
    await runnerNamed(options.runner)
      .start(p, options as RunnerOptions)
      .waitUntilFinish();
    expect(seen).toEqual([1, 2]);
  });

  it("prism runs (a test runs the medallion on it: medallion-prism.test.ts) but refuses checkpoints, which are the direct runner's", () => {
    const prism = RUNNERS.get("prism");
    expect(prism?.unavailable).toBeUndefined();
    const options = parseOptions(RUNNER_OPTIONS, ["--runner=prism", "--checkpoint-dir=/tmp/x"]).options;
    expect(() => prism?.start(Pipeline.create(), options)).toThrow("--checkpoint-dir is the direct runner's");
  });

  it("dataflow runs (runners/dataflow, tested in test/runners/dataflow) but refuses checkpoints, and bad options before anything runs", async () => {
    const dataflow = RUNNERS.get("dataflow");
    expect(dataflow?.unavailable).toBeUndefined();
    const withCheckpoints = parseOptions(RUNNER_OPTIONS, ["--runner=dataflow", "--checkpoint-dir=/tmp/x"]).options;
    expect(() => dataflow?.start(Pipeline.create(), withCheckpoints)).toThrow(
      "--checkpoint-dir is the direct runner's",
    );
    const noProject = parseOptions(RUNNER_OPTIONS, ["--runner=dataflow", "--region=europe-west1"]).options;
    await expect(dataflow?.start(Pipeline.create(), noProject).waitUntilFinish()).rejects.toThrow(
      "--project is required",
    );
  });

  it("an unknown runner is refused, listing the ones there are", () => {
    expect(() => runnerNamed("flink")).toThrow('--runner must be one of direct, prism, dataflow, got "flink"');
  });
});
