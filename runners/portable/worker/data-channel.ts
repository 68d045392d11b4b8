import { ServiceClient } from "../grpc.ts";
import { BeamFnData } from "../proto/generated/org/apache/beam/model/fn_execution/v1/beam_fn_api_pb.ts";

/** What the runner sends a bundle: a block of encoded elements for a data input, or of timers for a timer family. */
export type Inbound =
  | { readonly kind: "data"; readonly transformId: string; readonly bytes: Uint8Array; readonly isLast: boolean }
  | {
      readonly kind: "timers";
      readonly transformId: string;
      readonly family: string;
      readonly bytes: Uint8Array;
      readonly isLast: boolean;
    };

/** One bundle's inbound blocks, in arrival order, for a consumer that may start before or after they arrive. */
export class Inbox {
  private readonly items: Inbound[] = [];
  private wake: (() => void) | undefined;
  private failure: Error | undefined;

  push(item: Inbound): void {
    this.items.push(item);
    this.wake?.();
  }

  fail(e: Error): void {
    this.failure = e;
    this.wake?.();
  }

  /** The next block (waits for one). */
  async next(): Promise<Inbound> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      const item = this.items.shift();
      if (item !== undefined) return item;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }
}

/** Outbound bytes are sent once a transform's buffer holds this many (Beam's SDKs flush at about 1 MB too). */
const FLUSH_BYTES = 1 << 20;

/**
 * The Fn API data channel to one runner endpoint (`BeamFnData.Data`, one bidirectional stream, `worker_id` metadata):
 * inbound blocks are routed to their bundle's inbox by instruction id (a block may arrive before the bundle's
 * instruction), outbound elements are sent in blocks per transform, and a bundle's outputs end with `is_last` per
 * data output and timer family.
 */
export class DataChannel {
  private readonly client: ServiceClient<(typeof BeamFnData)["method"]>;
  private readonly call: ReturnType<ServiceClient<(typeof BeamFnData)["method"]>["bidiStream"]>;
  private readonly inboxes = new Map<string, Inbox>();
  /** Instructions whose inbox was released: blocks that still arrive for them are dropped. */
  private readonly released = new Set<string>();
  private closed = false;
  /** Why the stream ended, once it has: inboxes made after that fail with it. */
  private dead: Error | undefined;
  /** Resolves when the runner closes the stream. */
  readonly done: Promise<void>;

  constructor(
    readonly url: string,
    workerId: string,
  ) {
    this.client = new ServiceClient(BeamFnData, url, { worker_id: workerId });
    this.call = this.client.bidiStream("data");
    this.done = this.receive();
  }

  private async receive(): Promise<void> {
    try {
      for await (const elements of this.call) {
        for (const d of elements.data) {
          if (this.released.has(d.instructionId)) continue;
          this.inbox(d.instructionId).push({
            kind: "data",
            transformId: d.transformId,
            bytes: d.data,
            isLast: d.isLast,
          });
        }
        for (const t of elements.timers) {
          if (this.released.has(t.instructionId)) continue;
          this.inbox(t.instructionId).push({
            kind: "timers",
            transformId: t.transformId,
            family: t.timerFamilyId,
            bytes: t.timers,
            isLast: t.isLast,
          });
        }
      }
      this.dead = new Error(`the runner closed the data stream at ${this.url}`);
    } catch (e) {
      this.dead = e as Error;
    }
    if (!this.closed) for (const box of this.inboxes.values()) box.fail(this.dead);
  }

  /** The inbox of instruction `id` (made on first use, by either side). */
  inbox(id: string): Inbox {
    let box = this.inboxes.get(id);
    if (box === undefined) {
      box = new Inbox();
      if (this.dead !== undefined) box.fail(this.dead);
      this.inboxes.set(id, box);
    }
    return box;
  }

  /** Forgets a finished bundle's inbox; what still arrives for it is dropped. */
  release(id: string): void {
    this.inboxes.delete(id);
    this.released.add(id);
    // Instruction ids are not reused; remember the recent ones only.
    if (this.released.size > 10_000) this.released.delete(this.released.values().next().value as string);
  }

  sendData(instructionId: string, transformId: string, bytes: Uint8Array, isLast = false): void {
    this.call.send({ data: [{ instructionId, transformId, data: bytes, isLast }] });
  }

  sendTimers(instructionId: string, transformId: string, family: string, bytes: Uint8Array, isLast = false): void {
    this.call.send({ timers: [{ instructionId, transformId, timerFamilyId: family, timers: bytes, isLast }] });
  }

  /** Whether a buffer is large enough to send now. */
  static full(length: number): boolean {
    return length >= FLUSH_BYTES;
  }

  close(): void {
    this.closed = true;
    this.call.end();
    this.client.close();
  }
}
