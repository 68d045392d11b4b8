import type { GeneratedMessage } from "../../../pipelines/user-sessions/generate.ts";

// The generator's ground truth about dead letters (what it broke, and how, in the payload it wrote), read without the
// parser, for the tests of `npm run dead-letters`.

const REQUIRED = ["event_id", "user_id", "tenant_id", "event_type", "platform", "event_time"];

/** A generated message's payload as JSON (only for payloads that are JSON). */
export const json = (g: GeneratedMessage) => JSON.parse(g.message.data) as Record<string, unknown>;

/**
 * The field a job refuses a generated message for: a malformed one's, from what the generator broke; a valid event's
 * `tenant_id` when a worker for another tenant (`workerTenant`) reads it; undefined when the event is valid there.
 */
export function expectedField(g: GeneratedMessage, workerTenant?: string): string | undefined {
  const o = g.origin;
  if (o.kind !== "malformed") {
    return workerTenant === undefined || json(g).tenant_id === workerTenant ? undefined : "tenant_id";
  }
  switch (o.reason) {
    case "not_json":
    case "oversized":
      return "payload";
    case "unknown_event_type":
      return "event_type";
    case "bad_event_time":
      return "event_time";
    case "missing_field":
      return REQUIRED.find((f) => json(g)[f] === undefined);
    case "wrong_type": {
      const p = json(g);
      if (typeof p.user_id !== "string") return "user_id";
      if (typeof p.schema_version === "string") return "schema_version";
      if (Array.isArray(p.properties)) return "properties";
      if (typeof p.amount === "string") return "amount";
      return "event_time";
    }
  }
}

/** A message's tenant as the command selects it: its tenant_id attribute, else its payload's. */
export function tenantOfSent(g: GeneratedMessage): string | undefined {
  if (g.message.attributes.tenant_id !== undefined) return g.message.attributes.tenant_id;
  try {
    const t = json(g).tenant_id;
    return typeof t === "string" ? t : undefined;
  } catch {
    return undefined;
  }
}

/** How many times each value occurs. */
export function countBy(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
