/** Why a pane fired relative to the watermark: before it (EARLY), as it passed (ON_TIME), after it (LATE). */
export type PaneTiming = "EARLY" | "ON_TIME" | "LATE" | "UNKNOWN";

/**
 * Where a pane stands among the panes of its window.
 * `nonSpeculativeIndex` counts non-EARLY panes; it is -1 for every EARLY pane.
 */
export interface PaneInfo {
  readonly isFirst: boolean;
  readonly isLast: boolean;
  readonly timing: PaneTiming;
  readonly index: number;
  readonly nonSpeculativeIndex: number;
}

/** The pane of an element that has not been through a triggered grouping. */
export const NO_FIRING: PaneInfo = Object.freeze({
  isFirst: true,
  isLast: true,
  timing: "UNKNOWN",
  index: 0,
  nonSpeculativeIndex: 0,
});

export function describePaneInfo(p: PaneInfo): string {
  return `pane #${p.index} ${p.timing}${p.isFirst ? " first" : ""}${p.isLast ? " last" : ""}`;
}
