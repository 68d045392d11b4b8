import { create, toBinary } from "@bufbuild/protobuf";
import type { PipelineGraph } from "../../core/pipeline.ts";
import {
  DockerPayloadSchema,
  PipelineSchema,
} from "./proto/generated/org/apache/beam/model/pipeline/v1/beam_runner_api_pb.ts";
import { ENVIRONMENT_ID, translate } from "./translate.ts";
import { URNS } from "./urns.ts";

/**
 * A Tidemark graph as the encoded Beam pipeline a container-based runner (Dataflow) runs: the SDK environment is
 * Docker, naming the worker image (whose entry point is `bin/tidemark-worker`, Beam's boot contract), and stable
 * input is required where a DoFn asks for it (Dataflow honours it), and Pub/Sub is read by the runner itself
 * (`beam:transform:pubsub_read:v1`; the worker decodes the messages) and written by it (`pubsub_write`; the worker
 * encodes them). Returns the bytes and the environment's
 * capabilities (for the runner's worker pool settings).
 */
export function encodeForContainer(
  graph: PipelineGraph,
  image: string,
): { readonly bytes: Uint8Array; readonly environmentId: string; readonly capabilities: readonly string[] } {
  const proto = translate(
    graph,
    {
      urn: URNS.environments.DOCKER as string,
      payload: toBinary(DockerPayloadSchema, create(DockerPayloadSchema, { containerImage: image })),
    },
    { stableInput: "require", nativeReads: true, nativeWrites: true },
  );
  const env = proto.components?.environments[ENVIRONMENT_ID];
  return {
    bytes: toBinary(PipelineSchema, proto),
    environmentId: ENVIRONMENT_ID,
    capabilities: env?.capabilities ?? [],
  };
}
