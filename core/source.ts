import type { Instant } from "./time/instant.ts";

/**
 * What a source reports, in order: a bundle of elements (with their event times), a watermark advance, or a
 * processing-time advance (virtual clocks only).
 */
export type SourceEvent<T> =
  | { readonly kind: "elements"; readonly values: readonly T[]; readonly timestamps: ArrayLike<number> }
  | { readonly kind: "watermark"; readonly watermark: Instant }
  | { readonly kind: "processingTime"; readonly time: Instant };

export interface SourceReader<T> {
  /** The next event, or undefined when the source is exhausted (its watermark then goes to +infinity). */
  next(): SourceEvent<T> | undefined | Promise<SourceEvent<T> | undefined>;
  /**
   * A mark covering every element this reader has given so far and no earlier mark covered (Beam's
   * `UnboundedReader.getCheckpointMark`). The runner takes marks between events, when everything read has been
   * processed, and finalizes a mark once the effects of what it covers are durable (written by the sinks, or in a
   * checkpoint): a message queue acknowledges the messages then. Sources that need no acknowledgement omit it.
   */
  checkpointMark?(): CheckpointMark;
  /**
   * What the reader must remember across a restart, as plain data (a position in a file, the ids it has seen):
   * taken with the runner's checkpoint and given back to `Source.open`. Readers without such state omit it.
   */
  snapshot?(): unknown;
  close?(): void | Promise<void>;
}

/** What a source must do once the elements a mark covers are durably processed (Beam's `CheckpointMark`). */
export interface CheckpointMark {
  /** Elements the mark covers. */
  readonly size: number;
  /** Acknowledges the covered elements. Called at most once. */
  finalize(): Promise<void>;
}

/**
 * A connector a runner may run itself instead of this source's reader (Dataflow reads Pub/Sub natively): what to read,
 * and how an element the runner delivers, in its encoding, becomes this source's element.
 */
export interface NativeSource<T> {
  readonly kind: "pubsub";
  /** `projects/P/subscriptions/S`, or (exactly one of the two) a topic `projects/P/topics/T`. */
  readonly subscription?: string;
  readonly topic?: string;
  readonly timestampAttribute?: string;
  readonly idAttribute?: string;
  /** A delivered element (for Pub/Sub, a `google.pubsub.v1.PubsubMessage`, encoded) as this source's element. */
  decode(bytes: Uint8Array): T;
}

/**
 * A sink a runner may run itself instead of the DoFn that carries it (Dataflow publishes to Pub/Sub natively): the
 * DoFn's input is already in the connector's encoding (for Pub/Sub, encoded `google.pubsub.v1.PubsubMessage`s, as
 * Beam's Go SDK marshals them before its `pubsub_write`).
 */
export interface NativeSink {
  readonly kind: "pubsub";
  /** `projects/P/topics/T`. */
  readonly topic: string;
  /** The attribute carrying each element's timestamp (epoch ms), for readers that take event time from it. */
  readonly timestampAttribute?: string;
}

/** A source of elements. A bounded source ends; an unbounded one may run forever. */
export interface Source<T> {
  /** The connector a runner may run natively in its place (see `NativeSource`); absent for most sources. */
  readonly native?: NativeSource<T>;
  readonly name: string;
  readonly bounded: boolean;
  /** True when the source drives processing time itself (a fixture stream); the runner then uses a virtual clock. */
  readonly drivesProcessingTime?: boolean;
  /** Opens a reader; `restored` is what a reader's `snapshot` returned, when resuming from a checkpoint. */
  open(restored?: unknown): SourceReader<T>;
}
