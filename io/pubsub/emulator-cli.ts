/**
 * `npm run pubsub-emulator [-- --port=N]`: starts the official Pub/Sub emulator on 127.0.0.1, prints the line to
 * export, and stops it on Ctrl-C.
 */
import { parseArgs } from "node:util";
import { startPubsubEmulator } from "./emulator.ts";

const { values } = parseArgs({ options: { port: { type: "string" } } });
const emulator = await startPubsubEmulator(values.port === undefined ? {} : { port: Number(values.port) });
process.stdout.write(`Pub/Sub emulator on ${emulator.endpoint}\nexport PUBSUB_EMULATOR_HOST=${emulator.endpoint}\n`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void emulator.stop().then(() => process.exit(0));
  });
}
