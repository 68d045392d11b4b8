import { decodeWindow, type EncodedWindow, encodeWindow } from "../engine/window-codec.ts";
import type { PaneInfo } from "../../core/pane.ts";
import type { AnyView } from "../../core/view.ts";
import type { BoundedWindow } from "../../core/windows/window.ts";
import type { DoFnRunner, SideInputReader } from "../fn/do-fn-runner.ts";
import { ElementMeta } from "../fn/receiver.ts";
import type { KeyedStage } from "./keyed-stage.ts";
import { OutputQueue } from "./output-queue.ts";
import type { ViewStore } from "../fn/view-store.ts";

interface Pushed {
  readonly value: unknown;
  readonly timestamp: number;
  readonly window: BoundedWindow;
  readonly pane: PaneInfo;
}

/**
 * A ParDo with side inputs in the direct runner. An element is processed once every side input is ready for its
 * window: something arrived for the side-input window, or the side input's watermark passed that window's end
 * (Beam's rule). Until then it is pushed back, holding this step's output watermark at its timestamp.
 */
export class SideInputStage implements KeyedStage, SideInputReader {
  readonly queue = new OutputQueue();
  inputWatermark = Number.NEGATIVE_INFINITY;
  private pushed: Pushed[] = [];
  private readonly meta = new ElementMeta();
  private readonly declared: ReadonlySet<string>;
  pushedBack = 0;
  runner: DoFnRunner | undefined;

  constructor(
    readonly stepName: string,
    private readonly stores: ReadonlyMap<string, ViewStore>,
    /** The watermark of a side input (its upstream producers, including pending bundles). */
    private readonly viewWatermark: (view: AnyView) => number,
  ) {
    this.declared = new Set(stores.keys());
  }

  declares(view: AnyView): boolean {
    return this.declared.has(view.id);
  }

  read(view: AnyView, mainWindow: BoundedWindow): unknown {
    return (this.stores.get(view.id) as ViewStore).read(mainWindow);
  }

  receive(value: unknown, meta: ElementMeta): void {
    const windows = meta.windows;
    if (windows.length === 1 && this.isReady(windows[0] as BoundedWindow)) {
      (this.runner as DoFnRunner).receive(value, meta);
      return;
    }
    for (const w of windows) {
      if (this.isReady(w)) {
        (this.runner as DoFnRunner).receive(value, this.meta.set(meta.timestamp, [w], meta.pane));
      } else {
        this.pushed.push({ value, timestamp: meta.timestamp, window: w, pane: meta.pane });
        this.pushedBack++;
      }
    }
  }

  /** Processes the pushed-back elements that are ready now; true if any was. */
  retry(): boolean {
    if (this.pushed.length === 0) return false;
    const waiting: Pushed[] = [];
    const ready: Pushed[] = [];
    for (const p of this.pushed) (this.isReady(p.window) ? ready : waiting).push(p);
    if (ready.length === 0) return false;
    this.pushed = waiting;
    for (const p of ready) (this.runner as DoFnRunner).receive(p.value, this.meta.set(p.timestamp, [p.window], p.pane));
    return true;
  }

  private isReady(mainWindow: BoundedWindow): boolean {
    for (const store of this.stores.values()) {
      if (store.hasData(mainWindow)) continue;
      if (!(this.viewWatermark(store.view) > store.sideWindow(mainWindow).maxTimestamp)) return false;
    }
    return true;
  }

  get outputWatermark(): number {
    let w = this.inputWatermark;
    for (const p of this.pushed) if (p.timestamp < w) w = p.timestamp;
    return w;
  }

  finishBundle(): void {}

  /** The pushed-back elements and the input watermark (the side inputs' contents are their stores'). */
  snapshot(): unknown {
    return {
      inputWatermark: this.inputWatermark,
      pushedBack: this.pushedBack,
      pushed: this.pushed.map((p) => ({ ...p, window: encodeWindow(p.window) })),
    };
  }

  restore(state: unknown): void {
    const s = state as {
      inputWatermark: number;
      pushedBack: number;
      pushed: (Omit<Pushed, "window"> & { window: EncodedWindow })[];
    };
    this.inputWatermark = s.inputWatermark;
    this.pushedBack = s.pushedBack;
    this.pushed = s.pushed.map((p) => ({ ...p, window: decodeWindow(p.window) }));
  }

  advanceInputWatermark(watermark: number): void {
    if (watermark > this.inputWatermark) this.inputWatermark = watermark;
  }

  advanceProcessingTime(): void {}

  stateCount(): number {
    return this.pushed.length;
  }

  counts() {
    const c = (this.runner as DoFnRunner).counters;
    return { elementsIn: c.elementsIn, elementsOut: c.elementsOut, droppedLate: 0, droppedClosed: 0 };
  }
}
