import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";

/** A server process started on 127.0.0.1 by the project's own scripts and tests (an emulator, a runner). */
export interface LocalServer {
  /** Stops it (its whole process group) and waits for it to exit. */
  stop(): Promise<void>;
  /** Its output so far (for error messages). */
  log(): string;
}

export interface StartLocalServerOptions {
  /** Its name in error messages. */
  readonly name: string;
  readonly bin: string;
  readonly args: readonly string[];
  /** Resolves true once the server answers. */
  readonly ready: () => Promise<boolean>;
  readonly startTimeoutMs: number;
}

/**
 * Starts a server in its own process group (so stopping it stops any process its launcher starts, such as a JVM)
 * and resolves once `ready` says it answers. Fails with the server's output when it exits or does not answer in time.
 */
export async function startLocalServer(options: StartLocalServerOptions): Promise<LocalServer> {
  const child = spawn(options.bin, [...options.args], { detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (b: Buffer) => {
    output = (output + b.toString("utf8")).slice(-20_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let gone = false;
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      gone = true;
      resolve(code);
    }),
  );
  child.once("error", (e) => {
    output += `\n${e.message}`;
    gone = true;
  });
  const server: LocalServer = { stop: () => stopGroup(child, exited), log: () => output };
  const deadline = Date.now() + options.startTimeoutMs;
  while (!(await options.ready())) {
    if (gone) throw new Error(`${options.name} exited during start:\n${output}`);
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`${options.name} did not answer in ${options.startTimeoutMs} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return server;
}

/** A port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** True when an HTTP request to the URL gets any response (an error status counts: the server is up). */
export async function answersHttp(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await res.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

async function stopGroup(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, sig);
    } catch {
      // Already gone.
    }
  };
  signal("SIGTERM");
  const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 5_000).unref());
  if ((await Promise.race([exited, timeout])) === "timeout") {
    signal("SIGKILL");
    await exited;
  }
}
