/**
 * Event time and processing time in Tidemark are integer epoch milliseconds.
 *
 * `Instant` and `Duration` are branded numbers: the compiler keeps a point in time apart from a length of time,
 * while the runtime representation stays a plain number (no allocation on the hot path).
 */
export type Instant = number & { readonly __brand?: "Instant" };

/** The smallest representable timestamp (JavaScript's Date range, exactly representable as a double). */
export const MIN_TIMESTAMP: Instant = -8.64e15;
/** The largest representable timestamp; a watermark here means "no more data, ever". */
export const MAX_TIMESTAMP: Instant = 8.64e15;
/** The global window ends one day before the end of time, as in Beam, so that timers can be set past it. */
export const END_OF_GLOBAL_WINDOW: Instant = MAX_TIMESTAMP - 86_400_000;

/** Makes an instant from epoch milliseconds, checking that it is an integer inside the representable range. */
export function instant(epochMs: number): Instant {
  if (!Number.isInteger(epochMs) || epochMs < MIN_TIMESTAMP || epochMs > MAX_TIMESTAMP) {
    throw new RangeError(`not a valid timestamp: ${epochMs} (expected integer epoch milliseconds)`);
  }
  return epochMs;
}

/** A readable form of an instant for error messages: ISO-8601, or -inf/+inf at the ends. */
export function formatInstant(t: Instant): string {
  if (t <= MIN_TIMESTAMP) return "-inf";
  if (t >= MAX_TIMESTAMP) return "+inf";
  if (t === END_OF_GLOBAL_WINDOW) return "end-of-global-window";
  return `${new Date(t).toISOString()} (${t})`;
}
