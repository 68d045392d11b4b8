import type { PubSub } from "@google-cloud/pubsub";
import { afterAll, beforeAll } from "vitest";
import { pubsubClient } from "../../../io/pubsub/client.ts";
import { type PubsubEmulator, startPubsubEmulator } from "../../../io/pubsub/emulator.ts";
import { type PubsubMessage, pubsubSource } from "../../../io/pubsub/pubsub-source.ts";

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

/**
 * Reads `count` messages from a subscription (a condition with a deadline, not a quiet spell) and acknowledges them;
 * fails naming how many came when the deadline passes first.
 */
export async function readMessages(
  pubsub: PubSub,
  subscription: string,
  count: number,
  timeoutMs = 60_000,
): Promise<PubsubMessage[]> {
  const reader = pubsubSource({ pubsub, subscription, heartbeatMs: 100 }).open();
  const out: PubsubMessage[] = [];
  const deadline = Date.now() + timeoutMs;
  try {
    while (out.length < count) {
      if (Date.now() > deadline) {
        throw new Error(`${subscription}: ${out.length} of ${count} messages within ${timeoutMs} ms`);
      }
      const ev = await reader.next();
      if (ev?.kind === "elements") out.push(...ev.values);
    }
    await reader.checkpointMark?.().finalize();
  } finally {
    await reader.close?.();
  }
  return out;
}
