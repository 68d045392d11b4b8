import { END_OF_GLOBAL_WINDOW, type Instant, MIN_TIMESTAMP } from "../time/instant.ts";

/**
 * A window: a grouping of elements by event time. Every window has a largest timestamp it can hold
 * (`maxTimestamp`); the watermark passing it means the window is complete.
 */
export interface BoundedWindow {
  readonly maxTimestamp: Instant;
  equals(other: BoundedWindow): boolean;
  toString(): string;
}

/** The single window that spans all of time. */
export class GlobalWindow implements BoundedWindow {
  readonly maxTimestamp: Instant = END_OF_GLOBAL_WINDOW;
  static readonly INSTANCE = new GlobalWindow();
  private constructor() {}
  equals(other: BoundedWindow): boolean {
    return other === this;
  }
  toString(): string {
    return "GlobalWindow";
  }
}

export const GLOBAL_WINDOW = GlobalWindow.INSTANCE;

/** A half-open interval `[start, end)` of event time. Its max timestamp is `end - 1`. */
export class IntervalWindow implements BoundedWindow {
  readonly maxTimestamp: Instant;
  constructor(
    readonly start: Instant,
    readonly end: Instant,
  ) {
    this.maxTimestamp = end - 1;
  }
  equals(other: BoundedWindow): boolean {
    return other instanceof IntervalWindow && other.start === this.start && other.end === this.end;
  }
  /** True when the two windows share at least one instant; windows that only touch do not intersect. */
  intersects(other: IntervalWindow): boolean {
    return this.start < other.end && other.start < this.end;
  }
  contains(other: IntervalWindow): boolean {
    return this.start <= other.start && other.end <= this.end;
  }
  /** The smallest window that covers both. */
  span(other: IntervalWindow): IntervalWindow {
    return new IntervalWindow(Math.min(this.start, other.start), Math.max(this.end, other.end));
  }
  toString(): string {
    return `[${this.start}, ${this.end})`;
  }
}

export function isIntervalWindow(w: BoundedWindow): w is IntervalWindow {
  return w instanceof IntervalWindow;
}

/** The start of a window for ordering and display: the global window starts at the beginning of time. */
export function windowStart(w: BoundedWindow): Instant {
  return w instanceof IntervalWindow ? w.start : MIN_TIMESTAMP;
}
