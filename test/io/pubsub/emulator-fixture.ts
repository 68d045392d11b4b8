import type { PubSub } from "@google-cloud/pubsub";
import { afterAll, beforeAll } from "vitest";
import { pubsubClient } from "../../../io/pubsub/client.ts";
import { type PubsubEmulator, startPubsubEmulator } from "../../../io/pubsub/emulator.ts";

/**
 * Starts the Pub/Sub emulator before the file's tests and stops it after; `client()` is a client for `project` on
 * it (valid inside tests).
 */
export function useEmulator(project: string): { client(): PubSub; emulator(): PubsubEmulator } {
  let emulator: PubsubEmulator | undefined;
  let pubsub: PubSub | undefined;
  beforeAll(async () => {
    emulator = await startPubsubEmulator();
    pubsub = pubsubClient(project, emulator.endpoint);
  }, 120_000);
  afterAll(async () => {
    await pubsub?.close();
    await emulator?.stop();
  });
  return { client: () => pubsub as PubSub, emulator: () => emulator as PubsubEmulator };
}
