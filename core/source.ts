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
  close?(): void | Promise<void>;
}

/** A source of elements. A bounded source ends; an unbounded one may run forever. */
export interface Source<T> {
  readonly name: string;
  readonly bounded: boolean;
  /** True when the source drives processing time itself (a fixture stream); the runner then uses a virtual clock. */
  readonly drivesProcessingTime?: boolean;
  open(): SourceReader<T>;
}
