import {
  type CaseResult,
  casePipeline,
  panesMatch,
  type TranscriptAction,
  type TranscriptCase,
  type TranscriptPane,
} from "../direct/conformance.ts";
import { runOnPrism } from "./prism-runner.ts";

/**
 * Runs one transcript case on Prism (its Job API at `jobEndpoint`), the same pipeline as the direct runner's. Prism
 * reports no step boundaries, so the panes are compared as a whole: every `expect` step's panes together against
 * every pane the job fired, one to one in any order. A case Prism refuses at Prepare fails with Prism's reason.
 */
export async function runCaseOnPrism(c: TranscriptCase, jobEndpoint: string): Promise<CaseResult> {
  try {
    const { pipeline, captured } = casePipeline(c);
    await runOnPrism(pipeline, { jobEndpoint, jobName: "conformance" });
    const expected = c.actions.flatMap((a: TranscriptAction) => ("expect" in a ? a.expect : [])) as TranscriptPane[];
    if (panesMatch(expected, captured)) return { name: c.name, pass: true };
    return { name: c.name, pass: false, expected, actual: captured };
  } catch (e) {
    return { name: c.name, pass: false, error: e instanceof Error ? e.message : String(e) };
  }
}
