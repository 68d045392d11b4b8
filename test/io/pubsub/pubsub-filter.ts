/**
 * A small evaluator of Pub/Sub subscription filters, written for the tests from Google's documentation of the filter
 * language ("Filter messages from a subscription"), not from the code that generates filters: the official emulator
 * stores a subscription's filter but does not apply it (measured), so this is what says which messages a generated
 * filter selects. The subset the project generates:
 *
 *   filter  := term (("AND" | "OR") term)*      one operator per level: AND and OR together need parentheses
 *   term    := "NOT" term | "(" filter ")" | "attributes:" KEY | "attributes." KEY "=" STRING
 *              | "hasPrefix(" "attributes." KEY "," STRING ")"
 *
 * Operators are upper case; KEY is letters, digits, `_` and `-`; STRING is a double-quoted literal with `\\` and `\"`
 * escapes. Anything else (`!=`, `-` for NOT, other functions, quoted keys) is refused by name, so that a generated
 * filter outside the subset fails the tests instead of being evaluated by a guess.
 *
 * A comparison (`=`, `hasPrefix`) on an attribute the message does not have is evaluated one of two ways
 * (`MissingAttribute`), as a filter the project generates must select the same messages under both:
 * - `false`, as Google documents `=` ("false if the attribute is not present"): `NOT` of it is true;
 * - `unknown`, as SQL's three-valued logic has it: `NOT unknown` is unknown, `unknown OR true` true, `unknown AND
 *   false` false, and a message is selected only when the filter is true. A reading of the documentation that gives
 *   `NOT attributes.k = "v"` no message without `k` is this one.
 * `attributes:KEY` (presence) is true or false in both.
 */
export type PubsubFilter = (attributes: Readonly<Record<string, string>>) => boolean;

/** How a comparison on a missing attribute evaluates (see above). */
export type MissingAttribute = "false" | "unknown";

/** Kleene's three truth values: a comparison on a missing attribute is `undefined` under `unknown`. */
type Truth = boolean | undefined;
type Predicate = (attributes: Readonly<Record<string, string>>) => Truth;

type Token = { kind: "word" | "string" | "punct"; text: string; at: number };

function tokenize(filter: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < filter.length) {
    const c = filter[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"') {
      let text = "";
      let j = i + 1;
      for (; j < filter.length && filter[j] !== '"'; j++) {
        if (filter[j] === "\\") {
          const next = filter[j + 1];
          if (next !== "\\" && next !== '"') throw new Error(`filter: escape \\${next} at ${j} is not in the subset`);
          j++;
        }
        text += filter[j];
      }
      if (j >= filter.length) throw new Error(`filter: unterminated string at ${i}`);
      tokens.push({ kind: "string", text, at: i });
      i = j + 1;
    } else if ("():.,=".includes(c)) {
      tokens.push({ kind: "punct", text: c, at: i });
      i++;
    } else if (/[A-Za-z0-9_-]/.test(c)) {
      const word = /^[A-Za-z0-9_-]+/.exec(filter.slice(i))?.[0] as string;
      tokens.push({ kind: "word", text: word, at: i });
      i += word.length;
    } else {
      throw new Error(`filter: ${JSON.stringify(c)} at ${i} is not in the subset`);
    }
  }
  return tokens;
}

/**
 * Parses `filter` into a predicate over a message's attributes (selected: the filter is true); throws on what is
 * outside the subset above. `missing` says how a comparison on a missing attribute evaluates (default `false`).
 */
export function parsePubsubFilter(filter: string, missing: MissingAttribute = "false"): PubsubFilter {
  const absent: Truth = missing === "false" ? false : undefined;
  const tokens = tokenize(filter);
  let pos = 0;
  const peek = () => tokens[pos];
  const take = (kind: Token["kind"], text?: string): Token => {
    const t = tokens[pos];
    if (t === undefined || t.kind !== kind || (text !== undefined && t.text !== text)) {
      const where = t === undefined ? "the end" : `${JSON.stringify(t.text)} at ${t.at}`;
      throw new Error(`filter: expected ${text ?? kind}, found ${where}`);
    }
    pos++;
    return t;
  };
  const key = (): string => take("word").text;

  const parseFilter = (): Predicate => {
    const terms = [parseTerm()];
    let op: string | undefined;
    for (let t = peek(); t?.kind === "word" && (t.text === "AND" || t.text === "OR"); t = peek()) {
      if (op !== undefined && op !== t.text) {
        throw new Error(`filter: ${op} and ${t.text} at ${t.at} without parentheses`);
      }
      op = t.text;
      pos++;
      terms.push(parseTerm());
    }
    if (op === "AND") {
      // false wins, then unknown.
      return (a) => {
        let result: Truth = true;
        for (const f of terms) {
          const t = f(a);
          if (t === false) return false;
          if (t === undefined) result = undefined;
        }
        return result;
      };
    }
    if (op === "OR") {
      // true wins, then unknown.
      return (a) => {
        let result: Truth = false;
        for (const f of terms) {
          const t = f(a);
          if (t === true) return true;
          if (t === undefined) result = undefined;
        }
        return result;
      };
    }
    return terms[0] as Predicate;
  };

  const parseTerm = (): Predicate => {
    const t = peek();
    if (t === undefined) throw new Error("filter: a term expected, found the end");
    if (t.kind === "word" && t.text === "NOT") {
      pos++;
      const inner = parseTerm();
      return (a) => {
        const t = inner(a);
        return t === undefined ? undefined : !t;
      };
    }
    if (t.kind === "punct" && t.text === "(") {
      pos++;
      const inner = parseFilter();
      take("punct", ")");
      return inner;
    }
    if (t.kind === "word" && t.text === "hasPrefix") {
      pos++;
      take("punct", "(");
      take("word", "attributes");
      take("punct", ".");
      const k = key();
      take("punct", ",");
      const prefix = take("string").text;
      take("punct", ")");
      return (a) => (a[k] === undefined ? absent : (a[k] as string).startsWith(prefix));
    }
    if (t.kind === "word" && t.text === "attributes") {
      pos++;
      const sep = take("punct");
      if (sep.text === ":") {
        const k = key();
        return (a) => a[k] !== undefined;
      }
      if (sep.text !== ".") throw new Error(`filter: ${JSON.stringify(sep.text)} at ${sep.at} after attributes`);
      const k = key();
      take("punct", "=");
      const value = take("string").text;
      return (a) => (a[k] === undefined ? absent : a[k] === value);
    }
    throw new Error(`filter: ${JSON.stringify(t.text)} at ${t.at} is not in the subset`);
  };

  const f = parseFilter();
  if (pos !== tokens.length) {
    const t = tokens[pos] as Token;
    throw new Error(`filter: ${JSON.stringify(t.text)} at ${t.at} after a complete filter`);
  }
  return (a) => f(a) === true;
}
