import { NO_FIRING, type PaneInfo } from "../../../core/pane.ts";
import type { AnyView } from "../../../core/view.ts";
import { sideInputWindow } from "../../../core/windows/window-mapping.ts";
import type { BoundedWindow } from "../../../core/windows/window.ts";
import { ViewStore } from "../../fn/view-store.ts";
import type { DoFnRunner, SideInputReader } from "../../fn/do-fn-runner.ts";
import { ElementMeta, type Receiver } from "../../fn/receiver.ts";
import { ByteReader } from "../coders/bytes.ts";
import { type Coder, encodeToBytes } from "../coders/standard-coders.ts";
import type { StateChannel } from "./state-channel.ts";

/** How the worker reads one side input of a ParDo from the runner's state channel. */
export interface SideInputSpec {
  readonly view: AnyView;
  /** The side input's element coder (a KV coder for map and multimap views). */
  readonly elementCoder: Coder<unknown>;
  readonly windowCoder: Coder<BoundedWindow>;
  /** Multimap access (map and multimap views) or iterable access. */
  readonly multimap: boolean;
}

interface Buffered {
  readonly value: unknown;
  readonly timestamp: number;
  readonly windows: readonly BoundedWindow[];
  readonly pane: PaneInfo;
}

/**
 * A ParDo with side inputs in the Fn API worker: the side-input window each main window maps to (Beam's default
 * window mapping, `core/windows/window-mapping.ts`) is read from the runner (iterable access; or multimap access: the
 * keys, then each key's values) once per bundle, into the same `ViewStore` the direct runner reads views from, so a
 * view reads the same. An element whose side inputs are not read yet waits, with every element after it (their
 * order kept), until `drain` has read them; the bundle processor drains after each block and before the bundle ends.
 */
export class SideInputParDo implements Receiver, SideInputReader {
  instructionId = "";
  private readonly stores = new Map<string, ViewStore>();
  private readonly loaded = new Set<string>();
  private readonly loading = new Map<string, Promise<void>>();
  private readonly buffer: Buffered[] = [];
  private readonly meta = new ElementMeta();
  private readonly byId: ReadonlyMap<string, SideInputSpec>;

  /** The ParDo's runner (set once made: it is made with this object as its side-input reader). */
  runner: DoFnRunner | undefined;

  constructor(
    readonly transformId: string,
    specs: readonly SideInputSpec[],
    private readonly state: StateChannel,
  ) {
    this.byId = new Map(specs.map((s) => [s.view.id as string, s]));
  }

  /** Bumped by `reset`: a read still running for an earlier bundle is then dropped. */
  private generation = 0;

  /** Forgets what the last bundle read (side inputs may change between bundles). */
  reset(): void {
    this.generation++;
    for (const p of this.loading.values()) p.catch(() => {});
    this.stores.clear();
    this.loaded.clear();
    this.loading.clear();
    this.buffer.length = 0;
  }

  declares(view: AnyView): boolean {
    return this.byId.has(view.id);
  }

  read(view: AnyView, mainWindow: BoundedWindow): unknown {
    return (this.stores.get(view.id) as ViewStore).read(mainWindow);
  }

  private key(spec: SideInputSpec, sideWindow: BoundedWindow): string {
    return `${spec.view.id}\u0000${Buffer.from(encodeToBytes(spec.windowCoder, sideWindow)).toString("latin1")}`;
  }

  /** Whether every side input is read for each of `windows` (starting the reads that are missing). */
  private ready(windows: readonly BoundedWindow[]): boolean {
    let ready = true;
    for (const spec of this.byId.values()) {
      for (const w of windows) {
        const sw = sideInputWindow(spec.view.windowing.windowFn, w);
        const k = this.key(spec, sw);
        if (this.loaded.has(k)) continue;
        ready = false;
        if (!this.loading.has(k)) this.loading.set(k, this.load(spec, sw, k));
      }
    }
    return ready;
  }

  receive(value: unknown, meta: ElementMeta): void {
    if (this.buffer.length === 0 && this.ready(meta.windows)) {
      (this.runner as DoFnRunner).receive(value, meta);
      return;
    }
    this.ready(meta.windows);
    this.buffer.push({ value, timestamp: meta.timestamp, windows: meta.windows, pane: meta.pane });
  }

  /** Reads what the waiting elements need, then processes them in order. */
  async drain(): Promise<void> {
    while (this.buffer.length > 0) {
      await Promise.all(this.loading.values());
      const items = this.buffer.splice(0);
      for (let i = 0; i < items.length; i++) {
        const b = items[i] as Buffered;
        if (!this.ready(b.windows)) {
          // A window not read yet (its read started just now): it and the rest wait for the next round.
          this.buffer.unshift(...items.slice(i));
          break;
        }
        (this.runner as DoFnRunner).receive(b.value, this.meta.set(b.timestamp, b.windows, b.pane));
      }
    }
  }

  get waiting(): number {
    return this.buffer.length;
  }

  private async load(spec: SideInputSpec, sideWindow: BoundedWindow, k: string): Promise<void> {
    const generation = this.generation;
    const window = encodeToBytes(spec.windowCoder, sideWindow);
    const ids = { transformId: this.transformId, sideInputId: spec.view.id as string, window };
    let values: unknown[];
    if (!spec.multimap) {
      values = decodeAll(
        spec.elementCoder,
        await this.state.get(this.instructionId, {
          type: { case: "iterableSideInput", value: ids },
        }),
      );
    } else {
      const [keyCoder, valueCoder] = spec.elementCoder.components as [Coder<unknown>, Coder<unknown>];
      const keyBytes = await this.state.get(this.instructionId, {
        type: { case: "multimapKeysSideInput", value: ids },
      });
      const keys: Uint8Array[] = [];
      const r = new ByteReader(keyBytes);
      while (r.remaining > 0) {
        const start = r.offset;
        keyCoder.decode(r);
        keys.push(keyBytes.subarray(start, r.offset));
      }
      values = [];
      const perKey = await Promise.all(
        keys.map((key) =>
          this.state.get(this.instructionId, { type: { case: "multimapSideInput", value: { ...ids, key } } }),
        ),
      );
      for (let i = 0; i < keys.length; i++) {
        const key = decodeAll(keyCoder, keys[i] as Uint8Array)[0];
        for (const v of decodeAll(valueCoder, perKey[i] as Uint8Array)) values.push([key, v]);
      }
    }
    if (generation !== this.generation) return;
    let store = this.stores.get(spec.view.id);
    if (store === undefined) {
      store = new ViewStore(spec.view);
      this.stores.set(spec.view.id, store);
    }
    store.receive([undefined, values], new ElementMeta().set(sideWindow.maxTimestamp, [sideWindow], NO_FIRING));
    this.loaded.add(k);
    this.loading.delete(k);
  }
}

function decodeAll(coder: Coder<unknown>, bytes: Uint8Array): unknown[] {
  const out: unknown[] = [];
  const r = new ByteReader(bytes);
  while (r.remaining > 0) out.push(coder.decode(r));
  return out;
}
