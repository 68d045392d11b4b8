import { NO_FIRING, type PaneInfo } from "../../core/pane.ts";
import { GLOBAL_WINDOWS } from "../../core/windows/window-fn.ts";
import type { BoundedWindow } from "../../core/windows/window.ts";

/**
 * An element's timestamp, windows and pane, as handed from one step to the next. Each sender owns one and rewrites
 * it for every element it sends, so nothing is allocated per element (a timestamp passed as a call argument would
 * be boxed by V8 at every step). A receiver reads it during `receive` and never keeps or changes it.
 */
export class ElementMeta {
  timestamp = Number.NEGATIVE_INFINITY;
  windows: readonly BoundedWindow[] = GLOBAL_WINDOWS;
  pane: PaneInfo = NO_FIRING;

  set(timestamp: number, windows: readonly BoundedWindow[], pane: PaneInfo): this {
    this.timestamp = timestamp;
    this.windows = windows;
    this.pane = pane;
    return this;
  }
}

/** The runner's element handoff: one call per element. */
export interface Receiver {
  receive(value: unknown, meta: ElementMeta): void;
}

/** Sends each element to several receivers. */
export class FanOut implements Receiver {
  constructor(private readonly targets: readonly Receiver[]) {}
  receive(value: unknown, meta: ElementMeta): void {
    const t = this.targets;
    for (let i = 0; i < t.length; i++) (t[i] as Receiver).receive(value, meta);
  }
}

/** Drops elements (an output nobody consumes). */
export const DISCARD: Receiver = { receive() {} };

/** One receiver for a list: nothing, the receiver itself, or a fan-out. */
export function receiverOf(targets: readonly Receiver[]): Receiver {
  if (targets.length === 0) return DISCARD;
  if (targets.length === 1) return targets[0] as Receiver;
  return new FanOut(targets);
}
