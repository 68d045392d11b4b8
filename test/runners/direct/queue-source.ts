import type { CheckpointMark, Source, SourceEvent, SourceReader } from "../../../core/source.ts";

/** A message of the test queue: an id, a key and its event time. */
export interface QueueMessage {
  readonly id: string;
  readonly key: string;
  readonly timestamp: number;
}

/**
 * An in-memory message queue with Pub/Sub's contract, for runner tests: a reader gets every message not yet
 * acknowledged, one per bundle; a checkpoint mark acknowledges what it covers when finalized; a reader opened
 * after a crash gets the unacknowledged messages again, in the order `redeliveryOrder` says (a real queue gives
 * no order), skipping those whose ids its restored snapshot has seen (their effects are in the checkpoint). It
 * logs every delivery and acknowledgement in `log`.
 */
export class TestQueue {
  readonly acked = new Set<string>();
  readonly log: string[] = [];
  /** How many readers have been opened: the first delivers in order, later ones as `redeliveryOrder` says. */
  opened = 0;

  constructor(
    readonly messages: readonly QueueMessage[],
    private readonly redeliveryOrder: "same" | "reversed" = "reversed",
  ) {}

  source(): Source<QueueMessage> {
    return { name: "TestQueue", bounded: false, open: (restored) => this.reader(restored) };
  }

  private reader(restored: unknown): SourceReader<QueueMessage> {
    const seen = new Set<string>(Array.isArray(restored) ? (restored as string[]) : []);
    let pending = this.messages.filter((m) => !this.acked.has(m.id) && !seen.has(m.id));
    if (this.opened++ > 0 && this.redeliveryOrder === "reversed") pending = pending.reverse();
    let unmarked: string[] = [];
    let watermarkSent = false;
    const queue = this;
    return {
      next(): SourceEvent<QueueMessage> | undefined {
        const m = pending.shift();
        if (m === undefined) {
          if (watermarkSent) return undefined;
          watermarkSent = true;
          return { kind: "watermark", watermark: Number.MAX_SAFE_INTEGER };
        }
        seen.add(m.id);
        unmarked.push(m.id);
        queue.log.push(`deliver ${m.id}`);
        return { kind: "elements", values: [m], timestamps: [m.timestamp] };
      },
      checkpointMark(): CheckpointMark {
        const ids = unmarked;
        unmarked = [];
        return {
          size: ids.length,
          async finalize() {
            for (const id of ids) queue.acked.add(id);
            if (ids.length > 0) queue.log.push(`ack ${ids.join(",")}`);
          },
        };
      },
      snapshot: () => [...seen],
    };
  }
}
