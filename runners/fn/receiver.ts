import type { PaneInfo } from "../../core/pane.ts";
import type { BoundedWindow } from "../../core/windows/window.ts";

/**
 * The runner's element handoff: one call per element, with its timestamp, windows and pane passed as arguments so
 * that nothing is allocated to carry them.
 */
export interface Receiver {
  receive(value: unknown, timestamp: number, windows: readonly BoundedWindow[], pane: PaneInfo): void;
}

/** Sends each element to several receivers. */
export class FanOut implements Receiver {
  constructor(private readonly targets: readonly Receiver[]) {}
  receive(value: unknown, timestamp: number, windows: readonly BoundedWindow[], pane: PaneInfo): void {
    const t = this.targets;
    for (let i = 0; i < t.length; i++) (t[i] as Receiver).receive(value, timestamp, windows, pane);
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
