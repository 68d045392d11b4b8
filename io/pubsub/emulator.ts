import { existsSync } from "node:fs";
import { answersHttp, freePort, startLocalServer } from "../local-server.ts";

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
  const server = await startLocalServer({
    name: `the Pub/Sub emulator (port ${port})`,
    bin,
    args: ["--host=127.0.0.1", `--port=${port}`],
    ready: () => answersHttp(`http://127.0.0.1:${port}/`),
    startTimeoutMs: options.startTimeoutMs ?? 60_000,
  });
  return { host: "127.0.0.1", port, endpoint: `127.0.0.1:${port}`, stop: server.stop, log: server.log };
}
