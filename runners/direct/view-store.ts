import { canonicalJson, groupingKey } from "../../core/kv.ts";
import type { PaneInfo } from "../../core/pane.ts";
import type { AnyView } from "../../core/view.ts";
import { sideInputWindow } from "../../core/windows/window-mapping.ts";
import type { BoundedWindow } from "../../core/windows/window.ts";
import { IntervalWindow } from "../../core/windows/window.ts";
import type { ElementMeta, Receiver } from "../fn/receiver.ts";

interface ViewWindow {
  readonly window: BoundedWindow;
  /** Index of the pane the contents come from (-1: elements that were never in a triggered pane). */
  paneIndex: number;
  values: unknown[];
  readonly map: Map<string | number | boolean, readonly [unknown, unknown]>;
}

/**
 * A side input's materialized contents, per side-input window (the direct runner's view of Beam's
 * PCollectionView). Elements that were not through a triggered grouping accumulate; a pane with a higher index
 * replaces the window's contents (an updating side input shows its latest pane), except for map views, where a
 * later value for a key replaces that key's entry (multimap views add it to the key's values).
 */
export class ViewStore implements Receiver {
  private readonly windows = new Map<string, ViewWindow>();
  elements = 0;

  constructor(readonly view: AnyView) {}

  receive(value: unknown, meta: ElementMeta): void {
    this.elements++;
    const pane: PaneInfo = meta.pane;
    const paneIndex = pane.timing === "UNKNOWN" ? -1 : pane.index;
    for (const w of meta.windows) {
      const key = windowKey(w);
      let vw = this.windows.get(key);
      if (vw === undefined) {
        vw = { window: w, paneIndex, values: [], map: new Map() };
        this.windows.set(key, vw);
      }
      if (this.view.kind === "map" || this.view.kind === "multimap") {
        if (!Array.isArray(value) || value.length !== 2) {
          throw new TypeError(
            `map side input ${this.view.id} needs key-value pairs [key, value], got ${canonicalJson(value)}`,
          );
        }
        const gk = groupingKey(value[0]);
        if (this.view.kind === "multimap") {
          const prev = vw.map.get(gk);
          vw.map.set(gk, [value[0], [...((prev?.[1] as unknown[] | undefined) ?? []), value[1]]]);
        } else {
          vw.map.set(gk, [value[0], value[1]]);
        }
        continue;
      }
      if (paneIndex > vw.paneIndex) {
        vw.paneIndex = paneIndex;
        vw.values = [];
      }
      vw.values.push(value);
    }
  }

  /** Whether anything arrived for the side-input window of `mainWindow`. */
  hasData(mainWindow: BoundedWindow): boolean {
    return this.windows.has(windowKey(sideInputWindow(this.view.windowing.windowFn, mainWindow)));
  }

  /** The side-input window that `mainWindow` reads. */
  sideWindow(mainWindow: BoundedWindow): BoundedWindow {
    return sideInputWindow(this.view.windowing.windowFn, mainWindow);
  }

  read(mainWindow: BoundedWindow): unknown {
    const sw = this.sideWindow(mainWindow);
    const vw = this.windows.get(windowKey(sw));
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
            `singleton side input ${view.id} is empty in window ${sw.toString()} and has no default value`,
          );
        }
        throw new Error(
          `singleton side input ${view.id} has ${values.length} values in window ${sw.toString()}; use asIterable, or combine to one value first`,
        );
      }
    }
  }

  /** Windows whose contents are kept (for metrics). */
  windowCount(): number {
    return this.windows.size;
  }
}

function windowKey(w: BoundedWindow): string {
  return w instanceof IntervalWindow ? `${w.start}:${w.end}` : w.toString();
}
