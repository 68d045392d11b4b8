/**
 * The series a PromQL expression reads: each vector selector's metric name and label matchers, and the label names
 * its `by`, `without`, `on`, `ignoring`, `group_left` and `group_right` clauses name. A scanner, not a parser (the
 * project has no PromQL library; promtool checks the syntax): it skips strings, comments, ranges and numbers, takes
 * an identifier followed by `(` for a function or an aggregation, and any other identifier that is not a keyword for
 * a metric name. Names with `:` (Cloud Monitoring's PromQL names, recording rules) are identifiers too.
 */
export interface LabelMatcher {
  readonly label: string;
  readonly op: "=" | "!=" | "=~" | "!~";
  readonly value: string;
}

export interface VectorSelector {
  /** The metric name (from the identifier, or from `{__name__="..."}` / `{"name"}`); undefined when only matched by regex. */
  readonly name: string | undefined;
  readonly matchers: readonly LabelMatcher[];
}

export interface PromqlReads {
  readonly selectors: readonly VectorSelector[];
  readonly groupingLabels: readonly string[];
}

const AGGREGATIONS = new Set([
  "sum",
  "min",
  "max",
  "avg",
  "group",
  "stddev",
  "stdvar",
  "count",
  "count_values",
  "bottomk",
  "topk",
  "quantile",
  "limitk",
  "limit_ratio",
]);
const GROUPING = new Set(["by", "without", "on", "ignoring", "group_left", "group_right"]);
const KEYWORDS = new Set(["and", "or", "unless", "atan2", "bool", "offset", "inf", "nan", "start", "end"]);

export function promqlReads(expr: string): PromqlReads {
  const selectors: VectorSelector[] = [];
  const groupingLabels: string[] = [];
  let i = 0;
  const skipSpace = () => {
    while (i < expr.length) {
      if (/\s/.test(expr[i] as string)) i++;
      else if (expr[i] === "#") while (i < expr.length && expr[i] !== "\n") i++;
      else break;
    }
  };
  const readString = (): string => {
    const quote = expr[i] as string;
    let out = "";
    i++;
    while (i < expr.length && expr[i] !== quote) {
      if (expr[i] === "\\" && quote !== "`") {
        i++;
        const c = expr[i] as string;
        out += c === "n" ? "\n" : c === "t" ? "\t" : c;
      } else out += expr[i];
      i++;
    }
    if (i >= expr.length) throw new Error(`unterminated string in: ${expr}`);
    i++;
    return out;
  };
  const readIdentifier = (): string => {
    const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(expr.slice(i));
    if (m === null) throw new Error(`expected a name at ${i} in: ${expr}`);
    i += m[0].length;
    return m[0];
  };
  /** `{a="b", c=~"d", "utf8.name"}` at `i`; returns the matchers and a quoted bare name, if any. */
  const readMatchers = (): { matchers: LabelMatcher[]; quotedName?: string } => {
    const matchers: LabelMatcher[] = [];
    let quotedName: string | undefined;
    i++;
    for (;;) {
      skipSpace();
      if (expr[i] === "}") {
        i++;
        return { matchers, ...(quotedName === undefined ? {} : { quotedName }) };
      }
      const label = expr[i] === '"' ? readString() : readIdentifier();
      skipSpace();
      const op = /^(=~|!~|!=|=)/.exec(expr.slice(i))?.[0] as LabelMatcher["op"] | undefined;
      if (op === undefined) {
        quotedName = label;
      } else {
        i += op.length;
        skipSpace();
        if (expr[i] !== '"' && expr[i] !== "'" && expr[i] !== "`")
          throw new Error(`expected a string at ${i}: ${expr}`);
        matchers.push({ label, op, value: readString() });
      }
      skipSpace();
      if (expr[i] === ",") i++;
    }
  };
  const addSelector = (name: string | undefined) => {
    skipSpace();
    let matchers: LabelMatcher[] = [];
    if (expr[i] === "{") {
      const read = readMatchers();
      matchers = read.matchers.filter((m) => m.label !== "__name__");
      name ??= read.quotedName ?? read.matchers.find((m) => m.label === "__name__" && m.op === "=")?.value;
    }
    selectors.push({ name, matchers });
  };

  while (i < expr.length) {
    skipSpace();
    const c = expr[i];
    if (c === undefined) break;
    if (c === '"' || c === "'" || c === "`") {
      readString();
    } else if (c === "[") {
      while (i < expr.length && expr[i] !== "]") i++;
      i++;
    } else if (c === "{") {
      addSelector(undefined);
    } else if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(expr[i + 1] ?? ""))) {
      // A number or a duration (1e-3, 0x1f, 5m, 1h30m).
      while (i < expr.length && /[0-9a-zA-Z_.]/.test(expr[i] as string)) {
        i++;
        if (/[eE]/.test(expr[i - 1] as string) && /[+-]/.test(expr[i] ?? "")) i++;
      }
    } else if (/[a-zA-Z_:]/.test(c)) {
      const word = readIdentifier();
      skipSpace();
      const next = expr[i];
      if (GROUPING.has(word)) {
        if (next === "(") {
          i++;
          for (;;) {
            skipSpace();
            if (expr[i] === ")") break;
            groupingLabels.push(expr[i] === '"' ? readString() : readIdentifier());
            skipSpace();
            if (expr[i] === ",") i++;
          }
          i++;
        }
      } else if (next === "(" || (AGGREGATIONS.has(word) && /^(by|without)\b/.test(expr.slice(i)))) {
        // A function or an aggregation: its arguments are read as the loop goes on.
      } else if (!KEYWORDS.has(word.toLowerCase())) {
        addSelector(word);
      }
    } else {
      i++;
    }
  }
  return { selectors, groupingLabels };
}
