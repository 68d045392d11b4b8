/**
 * Reads the Prometheus text exposition format (for tests: the samples a scrape returned), written from the format's
 * description, not from prom-client's code: `name{label="value",...} value` lines, `#` lines skipped.
 */
export interface ParsedSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export function parseExposition(text: string): {
  samples(name: string): ParsedSample[];
  /** The one sample of `name` whose labels include `labels`; throws when there is not exactly one. */
  value(name: string, labels: Readonly<Record<string, string>>): number;
} {
  const all: ParsedSample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    const raw = m[3] as string;
    const value = raw === "+Inf" ? Number.POSITIVE_INFINITY : raw === "-Inf" ? Number.NEGATIVE_INFINITY : Number(raw);
    all.push({ name: m[1] as string, labels, value });
  }
  const samples = (name: string) => all.filter((s) => s.name === name);
  return {
    samples,
    value(name, labels) {
      const found = samples(name).filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
      if (found.length !== 1) {
        throw new Error(
          `${found.length} samples of ${name} ${JSON.stringify(labels)}: ${JSON.stringify(samples(name))}`,
        );
      }
      return (found[0] as ParsedSample).value;
    },
  };
}
