/**
 * Memory of a stateful step against the number of distinct keys it has seen
 * (`node --expose-gc --import tsx bench/stateful-keys.ts [--keys=1000000] [--every=100000] [--window=global|fixed]`).
 *
 * Each key is written (a value state) by one element and cleared by the next element of the same key, as Nexmark's
 * WinningBids clears an auction once it closes: a key with empty state and no timer should cost nothing, so the live
 * heap after a full GC, and the runner's slot count, should stay flat however many keys went by. With
 * `--window=fixed`, the keys fall in 10-second windows that stay open (no watermark moves) instead of the global
 * window. Prints one JSON line per `--every` keys (keys so far, slots, heap used after GC in MB), then a summary line.
 */
import { NO_FIRING } from "../core/pane.ts";
import { type StatefulDoFn, valueState } from "../core/state.ts";
import { DEFAULT_WINDOWING } from "../core/windowing-strategy.ts";
import { type BoundedWindow, GlobalWindow, IntervalWindow } from "../core/windows/window.ts";
import { StatefulRunner } from "../runners/engine/state/stateful-runner.ts";

function flag(name: string, fallback: string): string {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? fallback : a.slice(name.length + 3);
}

const keys = Number(flag("keys", "1000000"));
const every = Number(flag("every", "100000"));
const windowed = flag("window", "global") === "fixed";
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with node --expose-gc (see the header)");

const STATE = { v: valueState<number>() };
const fn: StatefulDoFn<number, number, never, typeof STATE, Record<string, never>> = {
  state: STATE,
  process([, v], ctx) {
    if (v >= 0) ctx.state.v.write(v);
    else ctx.state.v.clear();
  },
};
const runner = new StatefulRunner(DEFAULT_WINDOWING, fn as never, { output() {} });
const global: readonly BoundedWindow[] = [GlobalWindow.INSTANCE];
const windowsOf = (k: number): readonly BoundedWindow[] => {
  if (!windowed) return global;
  const start = Math.floor(k / 1000) * 10_000;
  return [new IntervalWindow(start, start + 10_000)];
};

function heapMb(): number {
  gc?.();
  gc?.();
  return Math.round((process.memoryUsage().heapUsed / 1e6) * 10) / 10;
}

const base = heapMb();
const rows: { keys: number; slots: number; heapMb: number }[] = [];
const t0 = performance.now();
for (let k = 0; k < keys; k++) {
  const ws = windowsOf(k);
  runner.processElement(k, k, k, ws, NO_FIRING); // written
  runner.processElement(k, -1, k, ws, NO_FIRING); // cleared
  if ((k + 1) % every === 0) {
    const row = { keys: k + 1, slots: runner.slotCount(), heapMb: heapMb() };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
}
const last = rows.at(-1);
const first = rows[0];
console.log(
  JSON.stringify({
    summary: "stateful-keys",
    window: windowed ? "fixed" : "global",
    keys,
    baseHeapMb: base,
    heapGrowthMb: last && first ? Math.round((last.heapMb - first.heapMb) * 10) / 10 : null,
    bytesPerKey: last && first ? Math.round(((last.heapMb - first.heapMb) * 1e6) / (last.keys - first.keys)) : null,
    finalSlots: runner.slotCount(),
    elapsedMs: Math.round(performance.now() - t0),
  }),
);
