import type { PaneInfo } from "../../core/pane.ts";
import type { BoundedWindow } from "../../core/windows/window.ts";
import { decodeWindow, type EncodedWindow, encodeWindow } from "../engine/window-codec.ts";
import type { DoFnRunner } from "../fn/do-fn-runner.ts";
import { ElementMeta, type Receiver } from "../fn/receiver.ts";

/** An element held for a step that requires stable input: its value, timestamp, windows and pane. */
export interface HeldElement {
  readonly value: unknown;
  readonly timestamp: number;
  readonly windows: readonly BoundedWindow[];
  readonly pane: PaneInfo;
}

/** A held element as plain data, for a checkpoint. */
export interface EncodedHeldElement {
  readonly value: unknown;
  readonly timestamp: number;
  readonly windows: readonly EncodedWindow[];
  readonly pane: PaneInfo;
}

/**
 * The input of a DoFn that requires stable input (Beam's `@RequiresStableInput`), held until the checkpoint that
 * covers it is durable. The runner takes what is held with each checkpoint's snapshot (the checkpoint carries it),
 * and hands it to the DoFn once that checkpoint is written; a run resumed from the checkpoint hands it again. So the
 * DoFn only ever sees elements that a replay gives it again, identical.
 *
 * State: the elements received since the last checkpoint's snapshot, in arrival order.
 * Lifetime: from `receive` until `take` (at a snapshot); then owned by that checkpoint until `release`.
 */
export class StableInputBuffer implements Receiver {
  private held: HeldElement[] = [];
  private readonly meta = new ElementMeta();

  constructor(
    readonly stepName: string,
    private readonly target: DoFnRunner,
  ) {}

  receive(value: unknown, meta: ElementMeta): void {
    this.held.push({ value, timestamp: meta.timestamp, windows: meta.windows, pane: meta.pane });
  }

  /** Elements held now. */
  get size(): number {
    return this.held.length;
  }

  /** What is held now (not taken). */
  contents(): readonly HeldElement[] {
    return this.held;
  }

  /** Takes what is held (for the checkpoint being taken); the buffer starts empty again. */
  take(): HeldElement[] {
    const out = this.held;
    this.held = [];
    return out;
  }

  /** Hands held elements to the DoFn, in order (their checkpoint is durable). */
  release(elements: readonly HeldElement[]): void {
    const m = this.meta;
    for (const e of elements) this.target.receive(e.value, m.set(e.timestamp, e.windows, e.pane));
  }

  static encode(elements: readonly HeldElement[]): EncodedHeldElement[] {
    return elements.map((e) => ({
      value: e.value,
      timestamp: e.timestamp,
      windows: e.windows.map(encodeWindow),
      pane: { ...e.pane },
    }));
  }

  static decode(elements: readonly EncodedHeldElement[]): HeldElement[] {
    return elements.map((e) => ({
      value: e.value,
      timestamp: e.timestamp,
      windows: e.windows.map(decodeWindow),
      pane: e.pane,
    }));
  }
}
