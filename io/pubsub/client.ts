import { PubSub } from "@google-cloud/pubsub";

/**
 * A Pub/Sub client for `projectId`, at `endpoint` (HOST:PORT) when given, else at $PUBSUB_EMULATOR_HOST when set,
 * else at Google Cloud. For an emulator it also turns off google-auth-library's probe for a metadata server (there
 * is none; the probe only prints a warning), through the library's own METADATA_SERVER_DETECTION setting.
 */
export function pubsubClient(projectId: string, endpoint?: string): PubSub {
  const target = endpoint ?? process.env.PUBSUB_EMULATOR_HOST;
  if (target !== undefined && !target.includes("googleapis.com")) process.env.METADATA_SERVER_DETECTION ??= "none";
  return new PubSub({ projectId, ...(endpoint ? { apiEndpoint: endpoint } : {}) });
}
