import { readFileSync } from "node:fs";
import { parseTranscripts, runCaseSafely } from "./conformance.ts";

/**
 * `npm run conformance -- FILE...`: runs windowing/trigger transcripts on the direct runner. Prints one JSON line
 * per case, then `N passed, N failed`; exits 1 if any case failed.
 */
async function main(files: string[]): Promise<number> {
  if (files.length === 0) {
    process.stderr.write("usage: npm run conformance -- FILE.json [FILE.json ...]\n");
    return 2;
  }
  let passed = 0;
  let failed = 0;
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
      const r = await runCaseSafely(c);
      process.stdout.write(`${JSON.stringify(r)}\n`);
      if (r.pass) passed++;
      else failed++;
    }
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
