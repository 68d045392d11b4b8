import type { MessageInitShape } from "@bufbuild/protobuf";
import { ServiceClient } from "../grpc.ts";
import {
  BeamFnState,
  type StateKeySchema,
  type StateResponse,
} from "../proto/generated/org/apache/beam/model/fn_execution/v1/beam_fn_api_pb.ts";

export type StateKeyInit = MessageInitShape<typeof StateKeySchema>;

/**
 * The Fn API state channel (`BeamFnState.State`, one bidirectional stream, `worker_id` metadata): get, append and
 * clear requests, each answered by the response with its id. A get follows continuation tokens to the end.
 */
export class StateChannel {
  private readonly client: ServiceClient<(typeof BeamFnState)["method"]>;
  private readonly call: ReturnType<ServiceClient<(typeof BeamFnState)["method"]>["bidiStream"]>;
  private readonly pending = new Map<string, { resolve(r: StateResponse): void; reject(e: Error): void }>();
  private nextId = 0;
  private closed = false;
  /** Why the stream ended, once it has: later requests fail with it. */
  private dead: Error | undefined;

  constructor(
    readonly url: string,
    workerId: string,
  ) {
    this.client = new ServiceClient(BeamFnState, url, { worker_id: workerId });
    this.call = this.client.bidiStream("state");
    void this.receive();
  }

  private async receive(): Promise<void> {
    let failure: Error = new Error(`the state channel to ${this.url} closed`);
    try {
      for await (const r of this.call) {
        const p = this.pending.get(r.id);
        if (p === undefined) continue;
        this.pending.delete(r.id);
        if (r.error !== "") p.reject(new Error(`state request failed at the runner: ${r.error}`));
        else p.resolve(r);
      }
    } catch (e) {
      failure = e as Error;
    }
    this.dead = failure;
    if (!this.closed) for (const p of this.pending.values()) p.reject(failure);
    this.pending.clear();
  }

  private request(
    instructionId: string,
    stateKey: StateKeyInit,
    request: MessageInitShape<typeof BeamFnState.method.state.input>["request"],
  ): Promise<StateResponse> {
    const id = `s${this.nextId++}`;
    if (this.dead !== undefined) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.call.send({ id, instructionId, stateKey, request });
    });
  }

  /** All the bytes under `key` (the runner may send them in pages). */
  async get(instructionId: string, key: StateKeyInit): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    let token: Uint8Array = new Uint8Array();
    for (;;) {
      const r = await this.request(instructionId, key, { case: "get", value: { continuationToken: token } });
      if (r.response.case !== "get") throw new Error(`a state get was answered with ${r.response.case}`);
      chunks.push(r.response.value.data);
      token = r.response.value.continuationToken;
      if (token.length === 0) break;
    }
    if (chunks.length === 1) return chunks[0] as Uint8Array;
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let o = 0;
    for (const c of chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }

  async append(instructionId: string, key: StateKeyInit, data: Uint8Array): Promise<void> {
    await this.request(instructionId, key, { case: "append", value: { data } });
  }

  async clear(instructionId: string, key: StateKeyInit): Promise<void> {
    await this.request(instructionId, key, { case: "clear", value: {} });
  }

  close(): void {
    this.closed = true;
    this.call.end();
    this.client.close();
  }
}
