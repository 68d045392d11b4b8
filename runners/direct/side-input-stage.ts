import { decodeWindow, type EncodedWindow, encodeWindow } from "../engine/window-codec.ts";
import type { PaneInfo } from "../../core/pane.ts";
import type { AnyView } from "../../core/view.ts";
import type { BoundedWindow } from "../../core/windows/window.ts";
import type { DoFnRunner, SideInputReader } from "../fn/do-fn-runner.ts";
import { ElementMeta } from "../fn/receiver.ts";
import type { KeyedStage } from "./keyed-stage.ts";
import { OutputQueue } from "./output-queue.ts";
import type { ViewStore } from "../fn/view-store.ts";
import { PushbackIndex } from "./pushback-index.ts";

/** A pushed-back element in a checkpoint (the format of every version so far: in arrival order). */
interface PushedData {
  readonly value: unknown;
  readonly timestamp: number;
  readonly window: EncodedWindow;
  readonly pane: PaneInfo;
}

/**
 * A ParDo with side inputs in the direct runner. An element is processed once every side input is ready for its
 * window: something arrived for the side-input window, or the side input's watermark passed that window's end
 * (Beam's rule). Until then it is pushed back, holding this step's output watermark at its timestamp; the pushed-back
 * elements are indexed by the side-input windows they wait on (`PushbackIndex`), so a bundle or a watermark change
 * costs the windows that became ready, not the elements waiting.
 */
export class SideInputStage implements KeyedStage, SideInputReader {
  readonly queue = new OutputQueue();
  inputWatermark = Number.NEGATIVE_INFINITY;
  private readonly pushed: PushbackIndex;
  private readonly meta = new ElementMeta();
  private readonly declared: ReadonlySet<string>;
  pushedBack = 0;
  runner: DoFnRunner | undefined;

  constructor(
    readonly stepName: string,
    private readonly stores: ReadonlyMap<string, ViewStore>,
    /** The watermark of a side input (its upstream producers, including pending bundles). */
    viewWatermark: (view: AnyView) => number,
  ) {
    this.declared = new Set(stores.keys());
    this.pushed = new PushbackIndex([...stores.values()], viewWatermark);
  }

  declares(view: AnyView): boolean {
    return this.declared.has(view.id);
  }

  read(view: AnyView, mainWindow: BoundedWindow): unknown {
    return (this.stores.get(view.id) as ViewStore).read(mainWindow);
  }

  receive(value: unknown, meta: ElementMeta): void {
    const windows = meta.windows;
    if (windows.length === 1 && this.pushed.isReady(windows[0] as BoundedWindow)) {
      (this.runner as DoFnRunner).receive(value, meta);
      return;
    }
    for (const w of windows) {
      if (this.pushed.isReady(w)) {
        (this.runner as DoFnRunner).receive(value, this.meta.set(meta.timestamp, [w], meta.pane));
      } else {
        this.pushed.push(value, meta.timestamp, w, meta.pane);
        this.pushedBack++;
      }
    }
  }

  /** Processes the pushed-back elements that are ready now, in the order they came; true if any was. */
  retry(): boolean {
    const ready = this.pushed.takeReady();
    if (ready.length === 0) return false;
    for (const p of ready) (this.runner as DoFnRunner).receive(p.value, this.meta.set(p.timestamp, [p.window], p.pane));
    return true;
  }

  get outputWatermark(): number {
    return Math.min(this.inputWatermark, this.pushed.minTimestamp());
  }

  finishBundle(): void {}

  /** The pushed-back elements and the input watermark (the side inputs' contents are their stores'). */
  snapshot(): unknown {
    return {
      inputWatermark: this.inputWatermark,
      pushedBack: this.pushedBack,
      pushed: this.pushed
        .contents()
        .map(
          (p): PushedData => ({ value: p.value, timestamp: p.timestamp, window: encodeWindow(p.window), pane: p.pane }),
        ),
    };
  }

  restore(state: unknown): void {
    const s = state as { inputWatermark: number; pushedBack: number; pushed: PushedData[] };
    this.inputWatermark = s.inputWatermark;
    this.pushedBack = s.pushedBack;
    this.pushed.restore(s.pushed.map((p) => ({ ...p, window: decodeWindow(p.window) })));
  }

  advanceInputWatermark(watermark: number): void {
    if (watermark > this.inputWatermark) this.inputWatermark = watermark;
  }

  advanceProcessingTime(): void {}

  stateCount(): number {
    return this.pushed.size;
  }

  counts() {
    const c = (this.runner as DoFnRunner).counters;
    return { elementsIn: c.elementsIn, elementsOut: c.elementsOut, droppedLate: 0, droppedClosed: 0 };
  }
}
