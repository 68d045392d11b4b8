import { decodeWindow, type EncodedWindow, encodeWindow } from "../engine/window-codec.ts";
import { canonicalJson, groupingKey } from "../../core/kv.ts";
import { NO_FIRING } from "../../core/pane.ts";
import type { AnyView } from "../../core/view.ts";
import { sideInputWindow } from "../../core/windows/window-mapping.ts";
import type { BoundedWindow } from "../../core/windows/window.ts";
import { IntervalWindow } from "../../core/windows/window.ts";
import { ElementMeta, type Receiver } from "./receiver.ts";

interface ViewWindow {
  readonly window: BoundedWindow;
  readonly values: unknown[];
  readonly map: Map<string | number | boolean, readonly [unknown, unknown]>;
}

/**
 * A side input's materialized contents, per side-input window (the direct runner's view of Beam's
 * PCollectionView): each pane of the view's materializing grouping replaces the window's contents, so an updating
 * side input shows its latest pane (accumulating panes: everything so far; discarding: the latest firing only).
 */
export class ViewStore implements Receiver {
  private readonly windows = new Map<string, ViewWindow>();
  /** Told the key (`sideWindowKey`) of each side-input window that receives a pane. */
  private readonly listeners: ((key: string) => void)[] = [];
  /** The last main window read and its side-input window's key (a bundle's elements are mostly in one window). */
  private lastMain: BoundedWindow | undefined = undefined;
  private lastKey = "";
  elements = 0;

  constructor(readonly view: AnyView) {}

  /** Receives a pane of the view's materializing grouping, `[key, values]`: it becomes the window's contents. */
  receive(value: unknown, meta: ElementMeta): void {
    const values = (value as readonly [unknown, readonly unknown[]])[1];
    this.elements += values.length;
    for (const w of meta.windows) {
      const vw: ViewWindow = { window: w, values: [...values], map: new Map() };
      if (this.view.kind === "map" || this.view.kind === "multimap") {
        for (const kv of values) {
          if (!Array.isArray(kv) || kv.length !== 2) {
            throw new TypeError(
              `map side input ${this.view.id} needs key-value pairs [key, value], got ${canonicalJson(kv)}`,
            );
          }
          const gk = groupingKey(kv[0]);
          if (this.view.kind === "multimap") {
            const prev = vw.map.get(gk);
            vw.map.set(gk, [kv[0], [...((prev?.[1] as unknown[] | undefined) ?? []), kv[1]]]);
          } else {
            vw.map.set(gk, [kv[0], kv[1]]);
          }
        }
      }
      const key = sideWindowKey(w);
      this.windows.set(key, vw);
      for (const l of this.listeners) l(key);
    }
  }

  /**
   * Calls `listener` with the key (`sideWindowKey`) of each side-input window that receives a pane from now on, as
   * it arrives (during the bundle that delivers it): a waiting step learns which of its windows became ready.
   */
  onWindowData(listener: (key: string) => void): void {
    this.listeners.push(listener);
  }

  /** Whether anything arrived for the side-input window whose key (`sideWindowKey`) is `key`. */
  hasWindowKey(key: string): boolean {
    return this.windows.has(key);
  }

  /** Whether anything arrived for the side-input window of `mainWindow`. */
  hasData(mainWindow: BoundedWindow): boolean {
    return this.windows.has(this.sideKey(mainWindow));
  }

  /** The side-input window that `mainWindow` reads. */
  sideWindow(mainWindow: BoundedWindow): BoundedWindow {
    return sideInputWindow(this.view.windowing.windowFn, mainWindow);
  }

  /** The key of the side-input window `mainWindow` reads. */
  private sideKey(mainWindow: BoundedWindow): string {
    const last = this.lastMain;
    if (
      last === mainWindow ||
      (last instanceof IntervalWindow &&
        mainWindow instanceof IntervalWindow &&
        last.start === mainWindow.start &&
        last.end === mainWindow.end)
    ) {
      return this.lastKey;
    }
    this.lastKey = sideWindowKey(this.sideWindow(mainWindow));
    this.lastMain = mainWindow;
    return this.lastKey;
  }

  read(mainWindow: BoundedWindow): unknown {
    const vw = this.windows.get(this.sideKey(mainWindow));
    const view = this.view;
    switch (view.kind) {
      case "map":
      case "multimap": {
        const out = new Map<unknown, unknown>();
        for (const [k, v] of vw?.map.values() ?? []) out.set(k, v);
        return out;
      }
      case "iterable":
      case "list":
        return Object.freeze([...(vw?.values ?? [])]);
      case "singleton": {
        const values = vw?.values ?? [];
        if (values.length === 1) return values[0];
        if (values.length === 0) {
          if (view.defaultValue) return view.defaultValue.value;
          throw new Error(
            `singleton side input ${view.id} is empty in window ${this.sideWindow(mainWindow).toString()} and has no default value`,
          );
        }
        throw new Error(
          `singleton side input ${view.id} has ${values.length} values in window ${this.sideWindow(mainWindow).toString()}; use asIterable, or combine to one value first`,
        );
      }
    }
  }

  /** The contents of every window, as plain data, for a checkpoint. */
  snapshot(): unknown {
    return {
      elements: this.elements,
      windows: [...this.windows.values()].map((vw) => ({ window: encodeWindow(vw.window), values: vw.values })),
    };
  }

  /** Takes a `snapshot` back (each window's contents as its last pane gave them). */
  restore(state: unknown): void {
    const s = state as { elements: number; windows: { window: EncodedWindow; values: unknown[] }[] };
    for (const w of s.windows) {
      this.receive([undefined, w.values], new ElementMeta().set(0, [decodeWindow(w.window)], NO_FIRING));
    }
    this.elements = s.elements;
  }

  /** Windows whose contents are kept (for metrics). */
  windowCount(): number {
    return this.windows.size;
  }
}

/** A side-input window's key in a `ViewStore`. */
export function sideWindowKey(w: BoundedWindow): string {
  return w instanceof IntervalWindow ? `${w.start}:${w.end}` : w.toString();
}
