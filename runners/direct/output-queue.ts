import type { PaneInfo } from "../../core/pane.ts";
import type { BoundedWindow } from "../../core/windows/window.ts";
import { ElementMeta, type Receiver } from "../fn/receiver.ts";

/**
 * A pending bundle: elements a step has produced and the steps downstream have not yet received. Its earliest
 * timestamp holds back the downstream input watermark (`minPending`).
 */
export class OutputQueue {
  private values: unknown[] = [];
  private timestamps: number[] = [];
  private windows: BoundedWindow[] = [];
  private panes: PaneInfo[] = [];
  private readonly meta = new ElementMeta();
  /** The earliest pending timestamp, +Infinity when empty. */
  minPending = Number.POSITIVE_INFINITY;

  get size(): number {
    return this.values.length;
  }

  push(value: unknown, timestamp: number, window: BoundedWindow, pane: PaneInfo): void {
    this.values.push(value);
    this.timestamps.push(timestamp);
    this.windows.push(window);
    this.panes.push(pane);
    if (timestamp < this.minPending) this.minPending = timestamp;
  }

  /** Hands the whole bundle to `to` and empties the queue. */
  drainTo(to: Receiver): number {
    const { values, timestamps, windows, panes } = this;
    const n = values.length;
    this.values = [];
    this.timestamps = [];
    this.windows = [];
    this.panes = [];
    this.minPending = Number.POSITIVE_INFINITY;
    const meta = this.meta;
    for (let i = 0; i < n; i++) {
      to.receive(values[i], meta.set(timestamps[i] as number, [windows[i] as BoundedWindow], panes[i] as PaneInfo));
    }
    return n;
  }
}
