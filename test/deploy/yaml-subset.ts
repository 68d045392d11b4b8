/**
 * Reads the block-style YAML that deploy/monitoring's Prometheus files are written in (the project has no YAML
 * library): mappings, sequences (of mappings or scalars), plain, "double-" and 'single-quoted' scalars, block scalars
 * (`|`, `>`, with `-` or `+` chomping), `[]` and `{}`, and whole-line comments. Scalars stay strings. Anything else
 * (anchors, tags, flow collections with content, comments after a value) is refused or read as text: promtool, which
 * reads the same files, is the judge of their YAML; this is how the tests look inside them.
 */
export type YamlValue = string | YamlValue[] | { [key: string]: YamlValue };

interface Line {
  readonly indent: number;
  readonly text: string;
  readonly number: number;
}

export function parseYaml(source: string): YamlValue {
  const lines: Line[] = source.split("\n").map((raw, i) => {
    const text = raw.replace(/\s+$/, "");
    return { indent: text.length - text.trimStart().length, text: text.trimStart(), number: i + 1 };
  });
  const reader = new Reader(lines);
  const first = reader.peek();
  if (first === undefined) return {};
  const value = reader.block(first.indent);
  const rest = reader.peek();
  if (rest !== undefined) throw new Error(`line ${rest.number}: unexpected "${rest.text}"`);
  return value;
}

class Reader {
  private i = 0;

  constructor(private readonly lines: Line[]) {}

  /** The next line that carries content (blank lines and comments skipped). */
  peek(): Line | undefined {
    while (this.i < this.lines.length) {
      const l = this.lines[this.i] as Line;
      if (l.text !== "" && !l.text.startsWith("#")) return l;
      this.i++;
    }
    return undefined;
  }

  /** A mapping or a sequence whose entries start at `indent`. */
  block(indent: number): YamlValue {
    const first = this.peek();
    if (first === undefined || first.indent !== indent) return "";
    return first.text === "-" || first.text.startsWith("- ") ? this.sequence(indent) : this.mapping(indent);
  }

  private sequence(indent: number): YamlValue[] {
    const items: YamlValue[] = [];
    for (let l = this.peek(); l !== undefined && l.indent === indent && /^-( |$)/.test(l.text); l = this.peek()) {
      const rest = l.text.slice(1).trimStart();
      if (rest === "") {
        this.i++;
        const next = this.peek();
        items.push(next !== undefined && next.indent > indent ? this.block(next.indent) : "");
      } else if (/^[^"'[{][^:]*:( |$)/.test(rest) || /^"[^"]*":( |$)/.test(rest)) {
        // "- key: value": the item is a mapping whose first key sits where the dash's content starts.
        const at = indent + (l.text.length - rest.length);
        this.lines[this.i] = { indent: at, text: rest, number: l.number };
        items.push(this.mapping(at));
      } else {
        this.i++;
        items.push(this.scalar(rest, indent, l.number));
      }
    }
    return items;
  }

  private mapping(indent: number): { [key: string]: YamlValue } {
    const out: { [key: string]: YamlValue } = {};
    for (let l = this.peek(); l !== undefined && l.indent === indent; l = this.peek()) {
      const m = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^:]+?):(?: +(.*))?$/.exec(l.text);
      if (m === null) throw new Error(`line ${l.number}: not a "key: value" line: ${l.text}`);
      const key = unquote(m[1] as string);
      if (key in out) throw new Error(`line ${l.number}: key ${key} given twice`);
      this.i++;
      const rest = m[2] ?? "";
      if (rest === "") {
        const next = this.peek();
        // A sequence may sit at the key's own indentation ("key:\n- a").
        const nested =
          next !== undefined && (next.indent > indent || (next.indent === indent && /^-( |$)/.test(next.text)));
        out[key] = nested && next !== undefined ? this.block(next.indent) : "";
      } else {
        out[key] = this.scalar(rest, indent, l.number);
      }
    }
    return out;
  }

  /** A value given on its key's line: inline, or the header of a block scalar whose lines follow. */
  private scalar(text: string, parentIndent: number, number: number): YamlValue {
    const header = /^([|>])([+-]?)$/.exec(text);
    if (header !== null) return this.blockScalar(header[1] === ">", header[2] as string, parentIndent);
    if (text === "[]") return [];
    if (text === "{}") return {};
    if (/^[[{&*!]/.test(text)) throw new Error(`line ${number}: not supported here: ${text}`);
    return unquote(text);
  }

  private blockScalar(folded: boolean, chomp: string, parentIndent: number): string {
    const body: string[] = [];
    let indent: number | undefined;
    while (this.i < this.lines.length) {
      const l = this.lines[this.i] as Line;
      if (l.text !== "" && l.indent <= parentIndent) break;
      if (l.text !== "") indent ??= l.indent;
      body.push(l.text === "" ? "" : " ".repeat(l.indent - (indent ?? l.indent)) + l.text);
      this.i++;
    }
    let trailing = 0;
    while (body.length > 0 && body[body.length - 1] === "") {
      body.pop();
      trailing++;
    }
    let text = "";
    // Folded: a line break between two text lines is a space, an empty line is a line break, and lines indented more
    // than the first keep their breaks.
    body.forEach((line, k) => {
      const previous = body[k - 1];
      if (previous === undefined) text = line;
      else if (!folded) text += `\n${line}`;
      else if (line === "") text += "\n";
      else if (previous === "") text += line;
      else if (line.startsWith(" ") || previous.startsWith(" ")) text += `\n${line}`;
      else text += ` ${line}`;
    });
    if (chomp === "-") return text;
    return chomp === "+" ? `${text}\n${"\n".repeat(trailing)}` : `${text}\n`;
  }
}

function unquote(text: string): string {
  if (text.startsWith('"')) {
    if (!text.endsWith('"') || text.length < 2) throw new Error(`unterminated string: ${text}`);
    return JSON.parse(text) as string;
  }
  if (text.startsWith("'")) {
    if (!text.endsWith("'") || text.length < 2) throw new Error(`unterminated string: ${text}`);
    return text.slice(1, -1).replace(/''/g, "'");
  }
  return text;
}
