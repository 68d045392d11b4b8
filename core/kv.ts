/** A key-value pair: the element type that groupings take. */
export type KV<K, V> = readonly [key: K, value: V];

export const kv = <K, V>(key: K, value: V): KV<K, V> => [key, value];

/**
 * Keys are grouped by value, not identity. Strings, numbers and booleans group as themselves; anything else by a
 * canonical JSON encoding (object keys sorted), so `{a:1,b:2}` and `{b:2,a:1}` are one key.
 */
export function groupingKey(key: unknown): string | number | boolean {
  switch (typeof key) {
    case "string":
    case "number":
    case "boolean":
      return key;
    default:
      return `\u0000${canonicalJson(key)}`;
  }
}

export function canonicalJson(v: unknown): string {
  if (v === undefined) return "undefined";
  if (v === null || typeof v !== "object") {
    if (typeof v === "bigint") return `${v}n`;
    // JSON.stringify turns NaN and the infinities into null: keep them apart.
    if (typeof v === "number" && !Number.isFinite(v)) return String(v);
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v instanceof Date) return JSON.stringify(v.toISOString());
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(",")}}`;
}
