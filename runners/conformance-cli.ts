import { readFileSync } from "node:fs";
import { type CaseResult, parseTranscripts, runCaseSafely } from "./direct/conformance.ts";
import { runCaseOnPrism } from "./portable/conformance.ts";
import { startPrism } from "./portable/prism.ts";

/**
 * `npm run conformance -- [--runner=direct|prism] [--strict] FILE...`: runs windowing/trigger transcripts on a runner
 * (default the direct runner; `prism` starts Beam's Prism once for all cases and compares each case's panes as a
 * whole). `--strict` compares every pane field (a case marks an open one `"any"`) and fails on any pane after the last
 * `expect`; without it, the file format's own rules hold (absent fields unchecked, see FORMAT.md).
 * Prints one JSON line per case, then `N passed, N failed`; exits 1 if any case failed.
 */
async function main(args: string[]): Promise<number> {
  const runnerArg = args.find((a) => a.startsWith("--runner="));
  const runner = runnerArg === undefined ? "direct" : runnerArg.slice("--runner=".length);
  const strict = args.includes("--strict");
  const files = args.filter((a) => a !== runnerArg && a !== "--strict");
  if (files.length === 0 || (runner !== "direct" && runner !== "prism") || files.some((f) => f.startsWith("--"))) {
    process.stderr.write(
      "usage: npm run conformance -- [--runner=direct|prism] [--strict] FILE.json [FILE.json ...]\n",
    );
    return 2;
  }
  const prism = runner === "prism" ? await startPrism() : undefined;
  const run = (c: Parameters<typeof runCaseSafely>[0]): Promise<CaseResult> =>
    prism === undefined ? runCaseSafely(c, { strict }) : runCaseOnPrism(c, prism.jobEndpoint, { strict });
  let passed = 0;
  let failed = 0;
  try {
    for (const file of files) {
      let cases: ReturnType<typeof parseTranscripts>;
      try {
        cases = parseTranscripts(readFileSync(file, "utf8"), file);
      } catch (e) {
        process.stdout.write(`${JSON.stringify({ name: file, pass: false, error: (e as Error).message })}\n`);
        failed++;
        continue;
      }
      for (const c of cases) {
        const r = await run(c);
        process.stdout.write(`${JSON.stringify(r)}\n`);
        if (r.pass) passed++;
        else failed++;
      }
    }
  } finally {
    await prism?.stop();
  }
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  return failed > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 2;
  },
);
