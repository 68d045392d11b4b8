import { expect } from "vitest";
import { PipelineBuildError } from "../../core/errors.ts";
import type { Source } from "../../core/source.ts";

/** Runs `build` and returns the `PipelineBuildError` it throws; fails the test if it throws anything else or nothing. */
export function buildError(build: () => unknown): PipelineBuildError {
  try {
    build();
  } catch (e) {
    expect(e).toBeInstanceOf(PipelineBuildError);
    return e as PipelineBuildError;
  }
  throw new Error("expected a PipelineBuildError, but the pipeline was built");
}

/** An unbounded source that is never read (for build-time checks only). */
export function unboundedSource<T>(name = "Unbounded"): Source<T> {
  return {
    name,
    bounded: false,
    open: () => ({ next: () => undefined }),
  };
}
