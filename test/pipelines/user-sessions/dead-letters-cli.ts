import { execFile } from "node:child_process";

/** What `npm run dead-letters` printed and how it ended. */
export interface DeadLettersRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `pipelines/user-sessions/dead-letters.ts` (what `npm run dead-letters --` runs) with `args`, to its end. */
export function deadLettersCli(args: readonly string[]): Promise<DeadLettersRun> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "pipelines/user-sessions/dead-letters.ts", ...args],
      { maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
        if (code === null) reject(new Error(`dead-letters ${args.join(" ")}: ${error?.message}\n${stderr}`));
        else resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Runs it and parses its `--json` output; fails with its stderr when it exits non-zero. */
export async function deadLettersJson<T>(args: readonly string[]): Promise<T> {
  const run = await deadLettersCli([...args, "--json"]);
  if (run.code !== 0) throw new Error(`dead-letters ${args.join(" ")} exited ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}
