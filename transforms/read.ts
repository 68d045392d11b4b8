import type { PCollection } from "../core/pcollection.ts";
import type { PBegin, PTransform } from "../core/ptransform.ts";
import type { Source } from "../core/source.ts";
import { MIN_TIMESTAMP } from "../core/time/instant.ts";
import { DEFAULT_WINDOWING } from "../core/windowing-strategy.ts";

/** Reads a source into a PCollection in the global window. */
export function read<T>(
  source: Source<T>,
  name = `Read(${source.name.replaceAll("/", "∕")})`,
): PTransform<PBegin, PCollection<T>> {
  return {
    name,
    expand: (begin) =>
      begin.pipeline.applyPrimitive({ kind: "read", source: source as Source<unknown> }, [], {
        main: { windowing: DEFAULT_WINDOWING, bounded: source.bounded },
      }).main as PCollection<T>,
  };
}

/**
 * A bounded PCollection of the given values, all at one timestamp (the beginning of time unless given), in one
 * bundle, in the global window.
 */
export function create<T>(
  values: readonly T[],
  opts: { timestamp?: number; name?: string } = {},
): PTransform<PBegin, PCollection<T>> {
  const ts = opts.timestamp ?? MIN_TIMESTAMP;
  const source: Source<T> = {
    name: opts.name ?? "Create",
    bounded: true,
    open() {
      let sent = false;
      return {
        next() {
          if (sent) return undefined;
          sent = true;
          return { kind: "elements", values, timestamps: new Array<number>(values.length).fill(ts) };
        },
      };
    },
  };
  return read(source, opts.name ?? "Create");
}
