import type { PaneInfo, PaneTiming } from "../../../core/pane.ts";

/**
 * Describes the next pane of a window (Beam's PaneInfoTracker.describePane). With `prev` the last emitted pane:
 * - index = prev.index + 1 (0 first); nonSpeculativeIndex = prev.nonSpeculativeIndex + 1 (0 first), -1 if EARLY;
 * - LATE if the output watermark is past the window's max timestamp or a non-EARLY pane was emitted before;
 *   else EARLY if the input watermark has not passed the max timestamp; else ON_TIME.
 */
export function describePane(
  prev: PaneInfo | null,
  isFinal: boolean,
  maxTs: number,
  inputWatermark: number,
  outputWatermark: number,
): PaneInfo {
  const isFirst = prev === null;
  const index = prev === null ? 0 : prev.index + 1;
  let nonSpeculativeIndex = prev === null ? 0 : prev.nonSpeculativeIndex + 1;
  const isLateForOutput = outputWatermark > maxTs;
  const onlyEarlySoFar = prev === null || prev.timing === "EARLY";
  const isEarlyForInput = !(inputWatermark > maxTs);
  let timing: PaneTiming;
  if (isLateForOutput || !onlyEarlySoFar) {
    timing = "LATE";
  } else if (isEarlyForInput) {
    timing = "EARLY";
    nonSpeculativeIndex = -1;
  } else {
    timing = "ON_TIME";
  }
  if (isFirst) return firstPane(timing, isFinal);
  return { isFirst, isLast: isFinal, timing, index, nonSpeculativeIndex };
}

/** First panes are interned, as Beam's PaneInfo.createPane does: index 0, nonSpeculativeIndex 0 or -1 if EARLY. */
const FIRST_PANES: Readonly<Record<PaneTiming, readonly [PaneInfo, PaneInfo]>> = {
  EARLY: [pane("EARLY", false), pane("EARLY", true)],
  ON_TIME: [pane("ON_TIME", false), pane("ON_TIME", true)],
  LATE: [pane("LATE", false), pane("LATE", true)],
  UNKNOWN: [pane("UNKNOWN", false), pane("UNKNOWN", true)],
};

function pane(timing: PaneTiming, isLast: boolean): PaneInfo {
  return Object.freeze({ isFirst: true, isLast, timing, index: 0, nonSpeculativeIndex: timing === "EARLY" ? -1 : 0 });
}

function firstPane(timing: PaneTiming, isLast: boolean): PaneInfo {
  return FIRST_PANES[timing][isLast ? 1 : 0];
}
