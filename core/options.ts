/**
 * Pipeline options in the style of Beam's `PipelineOptions`: each option is declared once (its type, default and
 * help), the command line is parsed once into one typed object, `--help` is generated from the declarations, and an
 * unknown flag is refused. Options are named in camelCase; the flag is the kebab-case form (`checkpointDir` is
 * `--checkpoint-dir`) and each can also come from the environment (`TIDEMARK_CHECKPOINT_DIR`). No I/O here: the
 * caller passes the arguments and the environment.
 */

export type OptionSpec =
  | {
      readonly type: "string";
      readonly help: string;
      readonly default?: string;
      /** The allowed values, when the option is one of a few. */
      readonly choices?: readonly string[];
      /** How the value looks, for `--help` (e.g. `DIR`). */
      readonly value?: string;
    }
  | {
      readonly type: "number";
      readonly help: string;
      readonly default?: number;
      /** `positive`: > 0; `non-negative`: >= 0; `whole`: a whole number > 0. */
      readonly range: "positive" | "non-negative" | "whole";
      readonly value?: string;
    }
  | { readonly type: "boolean"; readonly help: string; readonly default?: boolean };

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

type ValueOf<S extends OptionSpec> = S extends { type: "string" }
  ? string
  : S extends { type: "number" }
    ? number
    : boolean;

/** The parsed options: an option with a default is always set; one without may be undefined. */
export type OptionValues<S extends OptionSpecs> = {
  readonly [K in keyof S]: S[K] extends { default: unknown } ? ValueOf<S[K]> : ValueOf<S[K]> | undefined;
};

/** A command line that cannot be parsed: the message names the flag and what was wrong. */
export class OptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OptionsError";
  }
}

/** `checkpointDir` -> `checkpoint-dir`. */
export function flagName(option: string): string {
  return option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** `checkpointDir` -> `TIDEMARK_CHECKPOINT_DIR`. */
export function envName(option: string, prefix = "TIDEMARK_"): string {
  return prefix + flagName(option).toUpperCase().replaceAll("-", "_");
}

/**
 * Parses `argv` (`--name=value`, `--name value`, `--flag` for booleans) against `specs`; a flag on the command line
 * wins over the environment, which wins over the default. `--help` is reported as `help: true` (the caller prints
 * `describeOptions`). Throws an `OptionsError` on an unknown flag, a missing value or a value out of range.
 */
export function parseOptions<S extends OptionSpecs>(
  specs: S,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): { readonly help: boolean; readonly options: OptionValues<S> } {
  const byFlag = new Map<string, string>();
  for (const name of Object.keys(specs)) byFlag.set(flagName(name), name);
  const given = new Map<string, string | true>();
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--help" || arg === "-h") {
      help = true;
      continue;
    }
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/s.exec(arg);
    if (m === null) throw new OptionsError(`unexpected argument ${JSON.stringify(arg)}: options are --name=value`);
    const flag = m[1] as string;
    const name = byFlag.get(flag);
    if (name === undefined) {
      throw new OptionsError(`unknown option --${flag}${suggest(flag, [...byFlag.keys()])}; --help lists them`);
    }
    const spec = specs[name] as OptionSpec;
    let value: string | true | undefined = m[2];
    if (value === undefined) {
      if (spec.type === "boolean") value = true;
      else {
        const nextArg = argv[i + 1];
        if (nextArg === undefined || nextArg.startsWith("--")) throw new OptionsError(`--${flag} needs a value`);
        value = nextArg;
        i++;
      }
    }
    given.set(name, value);
  }
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const raw = given.get(name) ?? env[envName(name)];
    out[name] = raw === undefined ? spec.default : convert(name, spec, raw, given.has(name));
  }
  return { help, options: out as OptionValues<S> };
}

function convert(name: string, spec: OptionSpec, raw: string | true, fromArgs: boolean): string | number | boolean {
  const where = fromArgs ? `--${flagName(name)}` : `${envName(name)} (environment)`;
  switch (spec.type) {
    case "boolean":
      if (raw === true || raw === "true" || raw === "1") return true;
      if (raw === "false" || raw === "0") return false;
      throw new OptionsError(`${where} must be true or false, got ${JSON.stringify(raw)}`);
    case "string":
      if (raw === true) throw new OptionsError(`${where} needs a value`);
      if (spec.choices !== undefined && !spec.choices.includes(raw)) {
        throw new OptionsError(`${where} must be one of ${spec.choices.join(", ")}, got ${JSON.stringify(raw)}`);
      }
      return raw;
    case "number": {
      const n = raw === true ? Number.NaN : Number(raw);
      const ok =
        raw !== true &&
        raw.trim() !== "" &&
        Number.isFinite(n) &&
        (spec.range === "positive" ? n > 0 : spec.range === "non-negative" ? n >= 0 : Number.isInteger(n) && n > 0);
      if (!ok) {
        const what =
          spec.range === "positive"
            ? "a positive number"
            : spec.range === "non-negative"
              ? "a number >= 0"
              : "a whole number > 0";
        throw new OptionsError(`${where} must be ${what}, got ${JSON.stringify(raw === true ? "" : raw)}`);
      }
      return n;
    }
  }
}

/** Help text: one entry per option, its flag, value, default and environment variable. */
export function describeOptions(specs: OptionSpecs): string {
  const lines: string[] = [];
  for (const [name, spec] of Object.entries(specs)) {
    const value = spec.type === "boolean" ? "" : `=${spec.value ?? (spec.type === "number" ? "N" : "VALUE")}`;
    const head = `  --${flagName(name)}${value}`;
    const dflt = spec.default === undefined ? "" : ` (default ${String(spec.default)})`;
    const text = `${spec.help}${dflt}; env ${envName(name)}`;
    lines.push(
      head.length < 34 ? `${head.padEnd(34)}${wrap(text, 34)}` : `${head}\n${" ".repeat(34)}${wrap(text, 34)}`,
    );
  }
  return lines.join("\n");
}

function wrap(text: string, indent: number, width = 118): string {
  const words = text.split(" ");
  const out: string[] = [];
  let line = "";
  for (const w of words) {
    if (line.length > 0 && indent + line.length + 1 + w.length > width) {
      out.push(line);
      line = w;
    } else line = line.length === 0 ? w : `${line} ${w}`;
  }
  out.push(line);
  return out.join(`\n${" ".repeat(indent)}`);
}

function suggest(flag: string, known: readonly string[]): string {
  const close = known.filter((k) => k.includes(flag) || flag.includes(k) || distance(k, flag) <= 2);
  return close.length === 0 ? "" : ` (did you mean ${close.map((k) => `--${k}`).join(" or ")}?)`;
}

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      row[j] = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}
