import type { PaneInfo } from "../../../core/pane.ts";
import type { OnTimerContext, StateSpec, TimeDomain, TimerSpec } from "../../../core/state.ts";
import type { BoundedWindow } from "../../../core/windows/window.ts";

type AnyTimerContext = OnTimerContext<unknown, unknown, Record<string, StateSpec>, Record<string, TimerSpec>>;

/** What a context needs of the runner that owns its slot (the direct runner's engine, the Fn worker's step). */
export interface CallContextOwner<S> {
  emit(slot: S, value: unknown, timestamp: number, pane: PaneInfo, tag?: string): void;
}

/**
 * What `process`, `onTimer` and `onWindowExpiration` see, in every runner: one object per call, its methods on the
 * prototype (no closures allocated per element). Valid during the call only, as Beam's contexts: the runner sets
 * `open` false when the call returns.
 */
export class StatefulCallContext<S extends { readonly key: unknown; readonly window: BoundedWindow }>
  implements AnyTimerContext
{
  /** True during the call: outputs, state and timers are reachable only then (not after an await). */
  open = true;
  /** For timer callbacks (OnTimerContext). */
  firingTime = 0;
  timerId = "";
  domain: TimeDomain = "event";

  constructor(
    private readonly owner: CallContextOwner<S>,
    private readonly slot: S,
    readonly timestamp: number,
    readonly pane: PaneInfo,
    private readonly stateCells: AnyTimerContext["state"],
    private readonly timerCells: AnyTimerContext["timers"],
    readonly processingTime: number,
    readonly inputWatermark: number,
  ) {}

  /**
   * The key and window's state, during the call only: after an await the window may have expired and its state been
   * cleared, or a commit have taken its snapshot, so a later read or write would be lost or misplaced. (A reference
   * kept from before the await is not checked: do not keep one.)
   */
  get state(): AnyTimerContext["state"] {
    this.checkOpen();
    return this.stateCells;
  }

  get timers(): AnyTimerContext["timers"] {
    this.checkOpen();
    return this.timerCells;
  }

  get key(): unknown {
    return this.slot.key;
  }

  get window(): BoundedWindow {
    return this.slot.window;
  }

  output(value: unknown): void {
    this.checkOpen();
    this.owner.emit(this.slot, value, this.timestamp, this.pane);
  }

  outputWithTimestamp(value: unknown, ts: number): void {
    this.checkOpen();
    this.owner.emit(this.slot, value, ts, this.pane);
  }

  outputTo(tag: string, value: unknown, ts?: number): void {
    this.checkOpen();
    this.owner.emit(this.slot, value, ts ?? this.timestamp, this.pane, tag);
  }

  private checkOpen(): void {
    if (!this.open) {
      throw new Error(
        "an output, state or timer was used after the call returned (after an await?): a stateful DoFn outputs, " +
          "reads and writes its state and sets its timers during the call, before its promise's first await",
      );
    }
  }
}
