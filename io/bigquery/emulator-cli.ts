/**
 * `npm run bigquery-emulator [-- --port=N --grpc-port=N --project=P]`: starts the BigQuery emulator on 127.0.0.1
 * (REST and the Storage API), prints the options to pass the pipeline, and stops it on Ctrl-C. Build the emulator
 * first with `bash scripts/go-tool.sh bigquery-emulator` (about 6 minutes once).
 */
import { parseArgs } from "node:util";
import { startBigQueryEmulator } from "./emulator.ts";

const { values } = parseArgs({
  options: { port: { type: "string" }, "grpc-port": { type: "string" }, project: { type: "string" } },
});
const emulator = await startBigQueryEmulator({
  ...(values.port === undefined ? {} : { port: Number(values.port) }),
  ...(values["grpc-port"] === undefined ? {} : { grpcPort: Number(values["grpc-port"]) }),
  ...(values.project === undefined ? {} : { projectId: values.project }),
});
process.stdout.write(
  `BigQuery emulator for project ${emulator.projectId}: REST ${emulator.apiEndpoint}, Storage API ${emulator.grpcEndpoint}\n` +
    `  --warehouse=bigquery://${emulator.projectId}/DATASET --bigquery-endpoint=${emulator.apiEndpoint} ` +
    `--bigquery-storage-endpoint=${emulator.grpcEndpoint}\n`,
);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void emulator.stop().then(() => process.exit(0));
  });
}
