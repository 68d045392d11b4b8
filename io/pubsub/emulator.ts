import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";

/** Where the Google Cloud SDK installs the official Pub/Sub emulator. */
export const DEFAULT_EMULATOR_BIN = "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator";

export interface PubsubEmulatorOptions {
  /** Port on 127.0.0.1; default a free one. */
  readonly port?: number;
  /** The emulator's launcher; default `$PUBSUB_EMULATOR_BIN` or the Cloud SDK's. */
  readonly bin?: string;
  /** How long to wait for it to answer. Default 60 s (it starts in about 2 s; a JVM on a busy machine is slower). */
  readonly startTimeoutMs?: number;
}

/** A running emulator. `endpoint` is what `new PubSub({ apiEndpoint })` and PUBSUB_EMULATOR_HOST take. */
export interface PubsubEmulator {
  readonly host: "127.0.0.1";
  readonly port: number;
  readonly endpoint: string;
  /** Stops the emulator (its JVM included) and waits for it to exit. */
  stop(): Promise<void>;
  /** Its output so far (for error messages). */
  log(): string;
}

/**
 * Starts the official Pub/Sub emulator on 127.0.0.1 (never 0.0.0.0) and resolves once it answers HTTP. The emulator
 * keeps everything in memory: a restart starts empty. Fails with the emulator's output when it exits or does not
 * answer in time.
 */
export async function startPubsubEmulator(options: PubsubEmulatorOptions = {}): Promise<PubsubEmulator> {
  const bin = options.bin ?? process.env.PUBSUB_EMULATOR_BIN ?? DEFAULT_EMULATOR_BIN;
  if (!existsSync(bin)) {
    throw new Error(
      `the Pub/Sub emulator is not at ${bin}: install the Cloud SDK's pubsub-emulator component, or set PUBSUB_EMULATOR_BIN`,
    );
  }
  const port = options.port ?? (await freePort());
  // Its own process group, so stopping it stops the JVM the launcher script starts.
  const child = spawn(bin, [`--host=127.0.0.1`, `--port=${port}`], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (b: Buffer) => {
    output = (output + b.toString("utf8")).slice(-20_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const emulator: PubsubEmulator = {
    host: "127.0.0.1",
    port,
    endpoint: `127.0.0.1:${port}`,
    stop: () => stopGroup(child, exited),
    log: () => output,
  };
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  while (!(await answers(port))) {
    if (gone) throw new Error(`the Pub/Sub emulator exited during start (port ${port}):\n${output}`);
    if (Date.now() > deadline) {
      await emulator.stop();
      throw new Error(`the Pub/Sub emulator did not answer on 127.0.0.1:${port} in time:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return emulator;
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

async function answers(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1_000) });
    await res.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

async function stopGroup(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
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
