import type { BoundedWindow } from "../../../core/windows/window.ts";
import { TimeHeap } from "../timers/time-heap.ts";
import { decodeWindow, type EncodedWindow, encodeWindow } from "../window-codec.ts";

/** One window's hold. */
class WindowHold {
  constructor(
    readonly mapKey: string,
    readonly window: BoundedWindow,
    readonly gcTime: number,
  ) {}
}

/** `WindowHolds` as plain data (for a checkpoint). */
export type WindowHoldsSnapshot = readonly { readonly window: EncodedWindow; readonly gcTime: number }[];

/**
 * The watermark hold of each window a stateful step has seen, at the window's max timestamp, as Beam's cleanup timer
 * holds it: the window's `onWindowExpiration` outputs there.
 *
 * State: per window its hold (window and expiry), in a map by window and a heap by max timestamp.
 * Merging: none (a stateful DoFn's windows do not merge).
 * Lifetime: made with the first key-and-window slot of the window; dropped when the input watermark passes the
 * window's expiry (max timestamp + allowed lateness), whether or not any key still has state in it. So a key's slot
 * can be released as soon as it is empty (`StatefulRunner`) without moving the output watermark: the hold is the
 * window's, not the key's, and costs one entry per window, not per key.
 */
export class WindowHolds {
  private readonly byWindow = new Map<string, WindowHold>();
  /**
   * By max timestamp. Expiry (`min(maxTimestamp + lateness, end of the global window)`) grows with the max
   * timestamp, so the first entry is also the first to expire.
   */
  private readonly heap = new TimeHeap<WindowHold>();

  /** Holds `window` (keyed `mapKey`) until `gcTime` passes, unless it is held already. */
  add(mapKey: string, window: BoundedWindow, gcTime: number): void {
    if (this.byWindow.has(mapKey)) return;
    const h = new WindowHold(mapKey, window, gcTime);
    this.byWindow.set(mapKey, h);
    this.heap.push(window.maxTimestamp, h);
  }

  /** Drops the holds of windows whose expiry is before `watermark`. */
  expireBefore(watermark: number): void {
    for (;;) {
      const h = this.heap.peekItem();
      if (h === undefined || !(h.gcTime < watermark)) return;
      this.heap.pop();
      this.byWindow.delete(h.mapKey);
    }
  }

  /** The earliest hold, or +Infinity. */
  earliest(): number {
    return this.heap.peekTime();
  }

  get size(): number {
    return this.byWindow.size;
  }

  snapshot(): WindowHoldsSnapshot {
    return [...this.byWindow.values()].map((h) => ({ window: encodeWindow(h.window), gcTime: h.gcTime }));
  }

  /** Takes a `snapshot` back; `keyOf` gives a window's map key, as the runner makes it. */
  restore(snap: WindowHoldsSnapshot, keyOf: (w: BoundedWindow) => string): void {
    for (const d of snap) {
      const w = decodeWindow(d.window);
      this.add(keyOf(w), w, d.gcTime);
    }
  }
}
