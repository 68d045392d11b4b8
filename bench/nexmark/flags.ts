/**
 * The generator's command-line flags, shared by the Nexmark commands: `--events=N` (`_` allowed), `--rate=N` events
 * per second (constant), `--out-of-order=N` (events per out-of-order group), `--seed=S`; any other flag must be one
 * of `extra` (returned as given) or is refused, naming it.
 */
import { type NexmarkConfig, nexmarkConfig } from "./generator.ts";

export interface NexmarkFlags {
  readonly config: NexmarkConfig;
  /** The `extra` flags given, by name (a bare `--flag` is "true"). */
  readonly values: ReadonlyMap<string, string>;
}

export function parseNexmarkFlags(
  argv: readonly string[],
  extra: readonly string[] = [],
  defaults: Partial<NexmarkConfig> = {},
): NexmarkFlags {
  const own = new Map<string, string>();
  const values = new Map<string, string>();
  for (const arg of argv) {
    if (!arg.startsWith("--")) throw new Error(`unexpected argument ${arg}`);
    const eq = arg.indexOf("=");
    const key = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const value = eq < 0 ? "true" : arg.slice(eq + 1);
    if (["events", "rate", "out-of-order", "seed"].includes(key)) own.set(key, value);
    else if (extra.includes(key)) values.set(key, value);
    else
      throw new Error(
        `unknown flag --${key} (known: --events, --rate, --out-of-order, --seed${extra.map((e) => `, --${e}`).join("")})`,
      );
  }
  const int = (key: string): number | undefined => {
    const raw = own.get(key);
    if (raw === undefined) return undefined;
    const v = Number(raw.replaceAll("_", ""));
    if (!Number.isSafeInteger(v)) throw new Error(`--${key} must be an integer, got ${raw}`);
    return v;
  };
  const overrides: { -readonly [K in keyof NexmarkConfig]?: NexmarkConfig[K] } = { ...defaults };
  const events = int("events");
  if (events !== undefined) overrides.numEvents = events;
  const rate = int("rate");
  if (rate !== undefined) {
    overrides.firstEventRate = rate;
    overrides.nextEventRate = rate;
  }
  const group = int("out-of-order");
  if (group !== undefined) overrides.outOfOrderGroupSize = group;
  const seed = int("seed");
  if (seed !== undefined) overrides.seed = seed;
  return { config: nexmarkConfig(overrides), values };
}
