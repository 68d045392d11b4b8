import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { freePort, type LocalServer, startLocalServer } from "../local-server.ts";

/** The version of github.com/fsouza/fake-gcs-server the project builds (`scripts/go-tool.sh fake-gcs-server`). */
export const FAKE_GCS_VERSION = "v1.52.2";

const DEFAULT_BIN = join(
  process.env.TIDEMARK_CACHE ?? join(homedir(), ".cache", "tidemark"),
  "go-tools/bin",
  `fake-gcs-server-${FAKE_GCS_VERSION}`,
);

export interface FakeGcs extends LocalServer {
  /** The JSON API endpoint for `@google-cloud/storage`'s `apiEndpoint`, `http://127.0.0.1:PORT`. */
  readonly endpoint: string;
}

/**
 * Starts fake-gcs-server (a GCS server speaking the JSON API, built from its Go module) on a free 127.0.0.1 port,
 * in memory, over plain HTTP, and resolves once it answers.
 */
export async function startFakeGcs(options: { readonly bin?: string } = {}): Promise<FakeGcs> {
  const bin = options.bin ?? process.env.FAKE_GCS_BIN ?? DEFAULT_BIN;
  if (!existsSync(bin)) {
    throw new Error(`fake-gcs-server is not at ${bin}: build it with \`bash scripts/go-tool.sh fake-gcs-server\``);
  }
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const server = await startLocalServer({
    name: `fake-gcs-server (port ${port})`,
    bin,
    args: [
      "-scheme",
      "http",
      "-host",
      "127.0.0.1",
      "-port",
      String(port),
      "-backend",
      "memory",
      "-public-host",
      `127.0.0.1:${port}`,
    ],
    ready: async () => {
      try {
        return (await fetch(`${endpoint}/storage/v1/b`)).ok;
      } catch {
        return false;
      }
    },
    startTimeoutMs: 30_000,
  });
  return { endpoint, stop: server.stop, log: server.log };
}
