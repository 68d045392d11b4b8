/**
 * Writes generated Nexmark events to a file of JSON lines (`model.ts`'s layout, which Beam Python's Nexmark
 * launcher reads with `--input`), in emission order.
 *
 *   npx tsx bench/nexmark/events-file.ts --out=FILE [--events=N] [--rate=EVENTS_PER_S] [--out-of-order=GROUP]
 *                                        [--seed=S]
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseNexmarkFlags } from "./flags.ts";
import { type NexmarkConfig, NexmarkGenerator } from "./generator.ts";
import { eventToJson } from "./model.ts";

/** Writes `config.numEvents` events to `path`; returns how many. */
export function writeEventsFile(path: string, config: NexmarkConfig): number {
  if (!Number.isFinite(config.numEvents)) throw new RangeError("nexmark: a file needs a finite numEvents");
  const generator = new NexmarkGenerator(config);
  const fd = openSync(path, "w");
  try {
    let chunk: string[] = [];
    while (generator.hasNext()) {
      chunk.push(eventToJson(generator.next()));
      if (chunk.length === 10_000) {
        writeSync(fd, `${chunk.join("\n")}\n`);
        chunk = [];
      }
    }
    if (chunk.length > 0) writeSync(fd, `${chunk.join("\n")}\n`);
  } finally {
    closeSync(fd);
  }
  return generator.count;
}

async function main(): Promise<void> {
  const { config, values } = parseNexmarkFlags(process.argv.slice(2), ["out"]);
  const out = values.get("out");
  if (out === undefined) throw new Error("--out=FILE is required");
  const n = writeEventsFile(out, config);
  process.stderr.write(`nexmark: wrote ${n} events to ${out}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((e: unknown) => {
    process.stderr.write(`nexmark: ${(e as Error).message}\n`);
    process.exitCode = 1;
  });
}
