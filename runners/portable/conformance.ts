import {
  type CaseResult,
  type CompareOptions,
  casePipeline,
  checkStrictCase,
  panesMatch,
  type TranscriptAction,
  type TranscriptCase,
  type TranscriptPane,
} from "../direct/conformance.ts";
import { runOnPrism } from "./prism-runner.ts";

/**
 * Runs one transcript case on Prism (its Job API at `jobEndpoint`), the same pipeline as the direct runner's. Prism
 * reports no step boundaries, so the panes are compared as a whole: every `expect` step's panes together against
 * every pane the job fired, one to one in any order (so a pane after the last `expect` always fails here, strict or
 * not). A case Prism refuses at Prepare fails with Prism's reason.
 */
export async function runCaseOnPrism(
  c: TranscriptCase,
  jobEndpoint: string,
  options: CompareOptions = {},
): Promise<CaseResult> {
  try {
    if (options.strict === true) checkStrictCase(c);
    const { pipeline, captured } = casePipeline(c);
    await runOnPrism(pipeline, { jobEndpoint, jobName: "conformance" });
    const expected = c.actions.flatMap((a: TranscriptAction) => ("expect" in a ? a.expect : [])) as TranscriptPane[];
    if (panesMatch(expected, captured, options)) return { name: c.name, pass: true };
    return { name: c.name, pass: false, expected, actual: captured };
  } catch (e) {
    return { name: c.name, pass: false, error: e instanceof Error ? e.message : String(e) };
  }
}
