import { canonicalJson } from "../core/kv.ts";
import type { PaneInfo } from "../core/pane.ts";
import type { PCollection } from "../core/pcollection.ts";
import { type BoundedWindow, GLOBAL_WINDOW, IntervalWindow } from "../core/windows/window.ts";
import { parDo } from "./par-do.ts";

/** An element of a PCollection as a test sees it. */
export interface CapturedElement<T> {
  readonly value: T;
  readonly timestamp: number;
  readonly window: BoundedWindow;
  readonly pane: PaneInfo;
}

export class PAssertError extends Error {
  override name = "PAssertError";
}

type WindowRef = BoundedWindow | readonly [start: number, end: number] | "global";

function toWindow(w: WindowRef): BoundedWindow {
  if (w === "global") return GLOBAL_WINDOW;
  if (Array.isArray(w)) return new IntervalWindow(w[0] as number, w[1] as number);
  return w as BoundedWindow;
}

/** The captured elements of one window, narrowed by pane; assertions throw a `PAssertError` that lists both sides. */
export class PaneSelection<T> {
  constructor(
    private readonly label: string,
    private readonly elements: readonly CapturedElement<T>[],
  ) {}

  values(): T[] {
    return this.elements.map((e) => e.value);
  }

  panes(): PaneInfo[] {
    return this.elements.map((e) => e.pane);
  }

  containsInAnyOrder(...expected: T[]): void {
    const actual = this.values().map(canonicalJson).sort();
    const want = expected.map(canonicalJson).sort();
    if (actual.length !== want.length || actual.some((a, i) => a !== want[i])) {
      throw new PAssertError(`${this.label}: expected [${want.join(", ")}] in any order, got [${actual.join(", ")}]`);
    }
  }

  isEmpty(): void {
    if (this.elements.length > 0) {
      throw new PAssertError(
        `${this.label}: expected no elements, got [${this.values().map(canonicalJson).join(", ")}]`,
      );
    }
  }

  /** Asserts exactly one element and returns it. */
  single(): T {
    if (this.elements.length !== 1) {
      throw new PAssertError(`${this.label}: expected exactly one element, got ${this.elements.length}`);
    }
    return (this.elements[0] as CapturedElement<T>).value;
  }
}

/**
 * PAssert: captures a PCollection as the pipeline runs, for assertions after the run (usable from vitest: a failed
 * assertion throws). Apply it before running: `const out = assertThat(counts); await runner.run(p);
 * out.inOnTimePane([0, 60_000]).containsInAnyOrder(["a", 2])`.
 */
export class PAssertion<T> {
  private readonly captured: CapturedElement<T>[] = [];

  constructor(
    pc: PCollection<T>,
    private readonly name: string,
  ) {
    const captured = this.captured;
    pc.apply(
      parDo<T, never>(
        {
          process(value, ctx) {
            captured.push({ value, timestamp: ctx.timestamp, window: ctx.window, pane: ctx.pane });
          },
        },
        name,
      ),
    );
  }

  /** Every element seen, with timestamp, window and pane. */
  all(): readonly CapturedElement<T>[] {
    return this.captured;
  }

  /** Every element, all windows and panes together. */
  everything(): PaneSelection<T> {
    return new PaneSelection(`${this.name}`, this.captured);
  }

  /** The elements of a window, from every pane. */
  inWindow(w: WindowRef): PaneSelection<T> {
    return this.select(w, "all panes", () => true);
  }
  /** The elements of the window's ON_TIME pane. */
  inOnTimePane(w: WindowRef): PaneSelection<T> {
    return this.select(w, "the on-time pane", (p) => p.timing === "ON_TIME");
  }
  /** The elements of the window's final pane (isLast). */
  inFinalPane(w: WindowRef): PaneSelection<T> {
    return this.select(w, "the final pane", (p) => p.isLast);
  }
  /** The elements of the window's EARLY panes. */
  inEarlyPanes(w: WindowRef): PaneSelection<T> {
    return this.select(w, "early panes", (p) => p.timing === "EARLY");
  }
  /** The elements of the window's LATE panes. */
  inLatePanes(w: WindowRef): PaneSelection<T> {
    return this.select(w, "late panes", (p) => p.timing === "LATE");
  }
  /** The elements of the window's pane number `index`. */
  inPane(w: WindowRef, index: number): PaneSelection<T> {
    return this.select(w, `pane #${index}`, (p) => p.index === index);
  }

  private select(w: WindowRef, what: string, pred: (p: PaneInfo) => boolean): PaneSelection<T> {
    const window = toWindow(w);
    const picked = this.captured.filter((e) => e.window.equals(window) && pred(e.pane));
    return new PaneSelection(`${this.name}: ${what} of window ${window.toString()}`, picked);
  }
}

/** Starts an assertion on a PCollection (Beam's PAssert.that). */
export function assertThat<T>(pc: PCollection<T>, name = "PAssert"): PAssertion<T> {
  return new PAssertion(pc, name);
}
