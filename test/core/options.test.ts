import { describe, expect, it } from "vitest";
import { describeOptions, envName, flagName, OptionsError, parseOptions } from "../../core/options.ts";

const SPECS = {
  runner: { type: "string", default: "direct", choices: ["direct", "prism"], help: "where it runs" },
  checkpointDir: { type: "string", value: "DIR", help: "checkpoints" },
  checkpointSeconds: { type: "number", range: "non-negative", default: 5, help: "interval" },
  batchRows: { type: "number", range: "whole", default: 100, help: "rows" },
  streaming: { type: "boolean", default: true, help: "stream" },
} as const;

describe("pipeline options (core/options.ts)", () => {
  it("parses flags in both forms, with defaults, and the environment under the flag", () => {
    const { options, help } = parseOptions(
      SPECS,
      ["--checkpoint-dir", "/tmp/x", "--batch-rows=7", "--streaming=false"],
      { TIDEMARK_CHECKPOINT_SECONDS: "0.5", TIDEMARK_BATCH_ROWS: "9" },
    );
    expect(help).toBe(false);
    expect(options).toEqual({
      runner: "direct",
      checkpointDir: "/tmp/x",
      checkpointSeconds: 0.5,
      batchRows: 7,
      streaming: false,
    });
    expect(parseOptions(SPECS, ["--streaming"]).options.streaming).toBe(true);
    expect(parseOptions(SPECS, ["--help"]).help).toBe(true);
    expect(flagName("checkpointDir")).toBe("checkpoint-dir");
    expect(envName("checkpointDir")).toBe("TIDEMARK_CHECKPOINT_DIR");
  });

  it.each([
    [["--checkpoint-dirs=/x"], "unknown option --checkpoint-dirs (did you mean --checkpoint-dir?); --help lists them"],
    [["--batch-rows=1.5"], '--batch-rows must be a whole number > 0, got "1.5"'],
    [["--checkpoint-seconds=-1"], '--checkpoint-seconds must be a number >= 0, got "-1"'],
    [["--runner=flink"], '--runner must be one of direct, prism, got "flink"'],
    [["--checkpoint-dir"], "--checkpoint-dir needs a value"],
    [["stray"], 'unexpected argument "stray": options are --name=value'],
  ])("refuses %j: %s", (argv, message) => {
    expect(() => parseOptions(SPECS, argv)).toThrow(new OptionsError(message));
  });

  it("names the environment variable when a bad value comes from there", () => {
    expect(() => parseOptions(SPECS, [], { TIDEMARK_BATCH_ROWS: "many" })).toThrow(
      'TIDEMARK_BATCH_ROWS (environment) must be a whole number > 0, got "many"',
    );
  });

  it("help lists every option with its value, default and environment variable", () => {
    const text = describeOptions(SPECS);
    for (const flag of ["--runner=VALUE", "--checkpoint-dir=DIR", "--checkpoint-seconds=N", "--streaming"]) {
      expect(text).toContain(flag);
    }
    expect(text).toContain("(default 5); env TIDEMARK_CHECKPOINT_SECONDS");
  });
});
