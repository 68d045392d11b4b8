/**
 * The rules a transcript's own expectations must follow, checked over the expected panes alone (no runner): Beam's
 * `PaneInfoTracker.describePane` and `WatermarkHold` as SEMANTICS.md states them. A strict case whose fields were
 * completed by hand is checked with these, so a wrong index, first/last flag, timing order or timestamp in a case
 * file is caught without trusting the engine the case is meant to test.
 */
import type { TranscriptCase, TranscriptPane } from "../../runners/direct/conformance.ts";
import { END_OF_GLOBAL_WINDOW } from "../../core/time/instant.ts";

interface Seen {
  readonly panes: TranscriptPane[];
}

const known = <T>(v: T | "any" | undefined): v is T => v !== undefined && v !== "any";

/** Each rule the case's expected panes break, as `action i: window ...: what`; empty when they follow them all. */
export function paneRuleViolations(c: TranscriptCase): string[] {
  const problems: string[] = [];
  const byWindow = new Map<string, Seen>();
  c.actions.forEach((a, step) => {
    if (!("expect" in a)) return;
    // Panes of one window within one step come in index order (a step may cover several firings).
    const ordered = [...a.expect].sort(
      (x, y) => (known(x.paneIndex) ? x.paneIndex : 0) - (known(y.paneIndex) ? y.paneIndex : 0),
    );
    for (const p of ordered) {
      const id = `${JSON.stringify(p.key ?? null)} ${JSON.stringify(p.window)}`;
      const say = (what: string) =>
        problems.push(`action ${step}: window ${id} values ${JSON.stringify(p.values)}: ${what}`);
      const seen = byWindow.get(id) ?? { panes: [] };
      byWindow.set(id, seen);
      const prev = seen.panes;
      const maxTs = p.window === "global" ? END_OF_GLOBAL_WINDOW : p.window[1] - 1;
      if (prev.some((q) => q.isLast === true)) say("a pane after the window's last pane");
      if (known(p.paneIndex) && p.paneIndex !== prev.length)
        say(`paneIndex ${p.paneIndex}, but ${prev.length} panes came before`);
      if (known(p.isFirst) && p.isFirst !== (prev.length === 0))
        say(`isFirst ${p.isFirst} with ${prev.length} panes before`);
      if (known(p.timing)) {
        const nonEarlyBefore = prev.filter((q) => q.timing !== "EARLY").length;
        if (known(p.nonSpeculativeIndex)) {
          const want = p.timing === "EARLY" ? -1 : nonEarlyBefore;
          if (p.nonSpeculativeIndex !== want)
            say(`nonSpeculativeIndex ${p.nonSpeculativeIndex} for a ${p.timing} pane (want ${want})`);
        }
        if (p.timing === "EARLY" && nonEarlyBefore > 0) say("an EARLY pane after an ON_TIME or LATE one");
        if (p.timing === "ON_TIME" && nonEarlyBefore > 0) say("a second non-early pane called ON_TIME");
      }
      if (known(p.timestamp)) {
        const start = p.window === "global" ? Number.NEGATIVE_INFINITY : p.window[0];
        if (p.timestamp < start || p.timestamp > maxTs) say(`timestamp ${p.timestamp} outside the window`);
        if ((p.timing === "LATE" || c.timestampCombiner === "endOfWindow") && p.timestamp !== maxTs) {
          say(
            `timestamp ${p.timestamp}, want the window's max timestamp ${maxTs} (${p.timing}, ${c.timestampCombiner})`,
          );
        }
      }
      const before = prev[prev.length - 1];
      if (c.accumulation === "accumulating" && before !== undefined && !containsAll(p.values, before.values)) {
        say(`accumulating, but the previous pane's values ${JSON.stringify(before.values)} are not all in it`);
      }
      prev.push(p);
    }
  });
  return problems;
}

/** Whether `all` holds every value of `part`, counted (values compared as JSON). */
function containsAll(all: readonly unknown[], part: readonly unknown[]): boolean {
  const counts = new Map<string, number>();
  for (const v of all) counts.set(JSON.stringify(v), (counts.get(JSON.stringify(v)) ?? 0) + 1);
  for (const v of part) {
    const n = counts.get(JSON.stringify(v)) ?? 0;
    if (n === 0) return false;
    counts.set(JSON.stringify(v), n - 1);
  }
  return true;
}
