import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { answersHttp, freePort, startLocalServer } from "../local-server.ts";

/** The emulator version the project builds (`scripts/go-tool.sh bigquery-emulator`). */
export const BIGQUERY_EMULATOR_VERSION = "v0.8.1";

/** Where `scripts/go-tool.sh bigquery-emulator` puts the binary: a cache outside the clone, shared by clones. */
export const DEFAULT_BIGQUERY_EMULATOR_BIN = join(
  process.env.TIDEMARK_CACHE ?? join(homedir(), ".cache", "tidemark"),
  "go-tools/bin",
  `bigquery-emulator-${BIGQUERY_EMULATOR_VERSION}`,
);

export interface BigQueryEmulatorOptions {
  /** The project the emulator serves. Default "tidemark-local". */
  readonly projectId?: string;
  /** REST and gRPC (Storage API) ports on 127.0.0.1; default free ones. */
  readonly port?: number;
  readonly grpcPort?: number;
  /** Default `$BIGQUERY_EMULATOR_BIN` or the project's build. */
  readonly bin?: string;
  /** A database file to keep data across restarts; default in memory. */
  readonly databaseFile?: string;
  readonly startTimeoutMs?: number;
}

export interface BigQueryEmulator {
  readonly projectId: string;
  /** For `new BigQuery({ apiEndpoint })`. */
  readonly apiEndpoint: string;
  /** host:port of the Storage API (gRPC, plaintext). */
  readonly grpcEndpoint: string;
  stop(): Promise<void>;
  log(): string;
}

/**
 * Starts goccy/bigquery-emulator on 127.0.0.1 (REST and the Storage API over gRPC) and resolves once it answers.
 * The binary is built once by `scripts/go-tool.sh bigquery-emulator` (npm test runs it first).
 */
export async function startBigQueryEmulator(options: BigQueryEmulatorOptions = {}): Promise<BigQueryEmulator> {
  const bin = options.bin ?? process.env.BIGQUERY_EMULATOR_BIN ?? DEFAULT_BIGQUERY_EMULATOR_BIN;
  if (!existsSync(bin)) {
    throw new Error(
      `the BigQuery emulator is not at ${bin}: build it with \`bash scripts/go-tool.sh bigquery-emulator\` ` +
        "(about 6 minutes the first time), or set BIGQUERY_EMULATOR_BIN",
    );
  }
  const projectId = options.projectId ?? "tidemark-local";
  const port = options.port ?? (await freePort());
  const grpcPort = options.grpcPort ?? (await freePort());
  const apiEndpoint = `http://127.0.0.1:${port}`;
  const server = await startLocalServer({
    name: `the BigQuery emulator (ports ${port}, ${grpcPort})`,
    bin,
    args: [
      "--host=127.0.0.1",
      `--port=${port}`,
      `--grpc-port=${grpcPort}`,
      `--project=${projectId}`,
      ...(options.databaseFile === undefined ? [] : [`--database=${options.databaseFile}`]),
    ],
    ready: () => answersHttp(`${apiEndpoint}/bigquery/v2/projects/${projectId}/datasets`),
    startTimeoutMs: options.startTimeoutMs ?? 60_000,
  });
  return { projectId, apiEndpoint, grpcEndpoint: `127.0.0.1:${grpcPort}`, stop: server.stop, log: server.log };
}
