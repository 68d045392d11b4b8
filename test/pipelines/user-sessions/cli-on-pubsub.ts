import { type ChildProcessByStdio, spawn } from "node:child_process";
import type { Readable } from "node:stream";
import { until } from "../../until.ts";

/** The command line running as a child process on a Pub/Sub subscription, its output (stdout and stderr) as it comes. */
export interface CliRun {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  output(): string;
  /** Its exit code. */
  readonly exit: Promise<number | null>;
  /** The address it printed for `what` (`metrics`: `/metrics` stripped; `dashboard`), once printed (within 60 s). */
  address(what: "metrics" | "dashboard"): Promise<string>;
}

const PRINTED = { metrics: /metrics: (http:\/\/\S+)\/metrics/, dashboard: /dashboard: (http:\/\/[^\s"]+)/ };

/** Starts `pipelines/user-sessions/cli.ts` reading `projects/PROJECT/subscriptions/SUBSCRIPTION` on the emulator. */
export function cliOnPubsub(o: {
  readonly project: string;
  readonly subscription: string;
  readonly endpoint: string;
  readonly args: readonly string[];
  readonly cwd?: string;
}): CliRun {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "pipelines/user-sessions/cli.ts",
      `--input=pubsub://projects/${o.project}/subscriptions/${o.subscription}`,
      `--pubsub-endpoint=${o.endpoint}`,
      ...o.args,
    ],
    { stdio: ["ignore", "pipe", "pipe"], ...(o.cwd === undefined ? {} : { cwd: o.cwd }) },
  );
  let out = "";
  child.stdout.on("data", (b: Buffer) => {
    out += b.toString();
  });
  child.stderr.on("data", (b: Buffer) => {
    out += b.toString();
  });
  const exit = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return {
    child,
    output: () => out,
    exit,
    async address(what) {
      await until(`the ${what} address printed`, () => PRINTED[what].test(out), {
        timeoutMs: 60_000,
        state: () => out,
      });
      return (PRINTED[what].exec(out) as RegExpExecArray)[1] as string;
    },
  };
}
