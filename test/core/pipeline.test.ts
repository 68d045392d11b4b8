import { describe, expect, it } from "vitest";
import { PipelineBuildError } from "../../core/errors.ts";
import { Pipeline } from "../../core/pipeline.ts";
import { map } from "../../transforms/element-wise.ts";
import { flattenAll } from "../../transforms/flatten.ts";
import { create } from "../../transforms/read.ts";

describe("Pipeline: transform names", () => {
  it("gives a transform applied twice under its default name a numbered suffix", () => {
    const p = Pipeline.create();
    const xs = p.apply(create([1, 2]));
    xs.apply(map((x: number) => x + 1));
    xs.apply(map((x: number) => x + 2));
    const names = p.graph().primitives.map((t) => t.fullName);
    expect(names).toEqual(["Create", "Map", "Map#2"]);
  });

  it("rejects a duplicate explicit name, naming the transform", () => {
    const p = Pipeline.create();
    const xs = p.apply(create([1, 2]));
    xs.apply(
      map((x: number) => x + 1),
      "AddOne",
    );
    let error: unknown;
    try {
      xs.apply(
        map((x: number) => x + 1),
        "AddOne",
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PipelineBuildError);
    expect((error as PipelineBuildError).transform).toBe("AddOne");
    expect((error as PipelineBuildError).message).toBe(
      "AddOne: this transform name is already used at this level; names must be unique",
    );
  });

  it("rejects an explicit name that collides with a default one", () => {
    const p = Pipeline.create();
    const xs = p.apply(create([1]));
    xs.apply(map((x: number) => x));
    expect(() =>
      xs.apply(
        map((x: number) => x),
        "Map",
      ),
    ).toThrow(PipelineBuildError);
  });

  it.each(["", "a/b"])("rejects the invalid name %j", (name) => {
    const p = Pipeline.create();
    const xs = p.apply(create([1]));
    expect(() =>
      xs.apply(
        map((x: number) => x),
        name,
      ),
    ).toThrow(/invalid transform name/);
  });

  it("names nested transforms by their path", () => {
    const p = Pipeline.create();
    p.apply(create([1])).apply({
      name: "Outer",
      expand: (input) => input.apply(map((x: number) => x * 2, "Double")),
    });
    expect(p.graph().primitives.map((t) => t.fullName)).toEqual(["Create", "Outer/Double"]);
  });

  it("the same name may be used at different levels", () => {
    const p = Pipeline.create();
    p.apply(create([1]))
      .apply(
        map((x: number) => x),
        "Step",
      )
      .apply({
        name: "Wrap",
        expand: (input) =>
          input.apply(
            map((x: number) => x),
            "Step",
          ),
      });
    expect(p.graph().primitives.map((t) => t.fullName)).toEqual(["Create", "Step", "Wrap/Step"]);
  });

  it("rejects a PCollection from another pipeline", () => {
    const a = Pipeline.create().apply(create([1]));
    const b = Pipeline.create().apply(create([2]));
    expect(() => flattenAll([a, b], "Mix")).toThrow(
      new PipelineBuildError("Mix", "input PCollection belongs to another pipeline"),
    );
  });
});

describe("PipelineBuildError", () => {
  it("has a message naming the transform and the problem", () => {
    const e = new PipelineBuildError("Window", "session gap must be positive");
    expect(e.message).toBe("Window: session gap must be positive");
    expect(e.name).toBe("PipelineBuildError");
    expect(e).toBeInstanceOf(Error);
  });
});
