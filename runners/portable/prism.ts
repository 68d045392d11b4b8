import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { freePort, type LocalServer, startLocalServer } from "../../io/local-server.ts";
import { JobService } from "./proto/generated/org/apache/beam/model/job_management/v1/beam_job_api_pb.ts";
import { ServiceClient } from "./grpc.ts";

/** The Beam version whose Prism the project builds (`scripts/go-tool.sh prism`), the version of its protos too. */
export const PRISM_VERSION = "v2.77.0";

/** Where `scripts/go-tool.sh prism` puts the binary: the project's cache outside the clone. */
export const DEFAULT_PRISM_BIN = join(
  process.env.TIDEMARK_CACHE ?? join(homedir(), ".cache", "tidemark"),
  "go-tools/bin",
  `prism-${PRISM_VERSION}`,
);

export interface Prism extends LocalServer {
  /** The Job API endpoint, `127.0.0.1:PORT`. */
  readonly jobEndpoint: string;
}

/**
 * Starts Beam's Prism runner (v2.77.0, built from the Go module by `scripts/go-tool.sh prism`) with its Job API on a
 * free 127.0.0.1 port and no web UI, and resolves once the Job API answers.
 */
export async function startPrism(options: { readonly bin?: string; readonly port?: number } = {}): Promise<Prism> {
  const bin = options.bin ?? process.env.PRISM_BIN ?? DEFAULT_PRISM_BIN;
  if (!existsSync(bin)) {
    throw new Error(`Prism is not at ${bin}: build it with \`bash scripts/go-tool.sh prism\` (a minute or two once)`);
  }
  const port = options.port ?? (await freePort());
  const jobEndpoint = `127.0.0.1:${port}`;
  const server = await startLocalServer({
    name: `Prism (job port ${port})`,
    bin,
    args: [`--job_port=${port}`, "--serve_http=false", "--log_level=warn"],
    ready: async () => {
      const client = new ServiceClient(JobService, jobEndpoint);
      try {
        await client.unary("getJobs", {}, 2_000);
        return true;
      } catch {
        return false;
      } finally {
        client.close();
      }
    },
    startTimeoutMs: 60_000,
  });
  return { jobEndpoint, stop: server.stop, log: server.log };
}
