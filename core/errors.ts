/** A pipeline built wrong: the message names the transform and the problem. Thrown when the pipeline is built. */
export class PipelineBuildError extends Error {
  constructor(
    readonly transform: string,
    readonly problem: string,
  ) {
    super(`${transform}: ${problem}`);
    this.name = "PipelineBuildError";
  }
}
