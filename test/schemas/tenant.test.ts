import { describe, expect, it } from "vitest";
import { parseEvent } from "../../schemas/event.ts";
import {
  CATCH_ALL_MISROUTED,
  catchAllFilter,
  checkCatchAllTenant,
  checkMessageTenant,
  tenantFilter,
  tenantIdProblem,
} from "../../schemas/tenant.ts";

const GRAMMAR = "must be 1 to 63 letters, digits, '_', '-' or '.', starting with a letter or a digit, got";

describe("tenant ids", () => {
  it.each(["acme", "globex", "Acme-2", "a", "t_1.eu", "9lives", "x".repeat(63)])("accepts %j", (id) => {
    expect(tenantIdProblem(id)).toBeUndefined();
  });

  it.each(["", "acme corp", "-acme", ".acme", "_acme", "acme:eu", 'ac"me', "ac\u0000me", "acmé", "x".repeat(64)])(
    "refuses %j, saying what a tenant id is",
    (id) => {
      expect(tenantIdProblem(id)).toBe(`${GRAMMAR} ${JSON.stringify(id)}`);
    },
  );

  it("parseEvent refuses a payload whose tenant_id is not one, naming the field", () => {
    const event = {
      event_id: "e1",
      event_type: "page_view",
      user_id: "u1",
      tenant_id: "acme:eu",
      event_time: "2026-01-05T08:00:00Z",
      platform: "web",
      schema_version: 1,
    };
    expect(parseEvent(JSON.stringify(event))).toEqual({
      ok: false,
      error: { field: "tenant_id", reason: `${GRAMMAR} "acme:eu"` },
    });
    expect(parseEvent(JSON.stringify({ ...event, tenant_id: "acme" })).ok).toBe(true);
  });

  it("a tenant's subscription filter is Pub/Sub's attribute equality", () => {
    expect(tenantFilter("acme")).toBe('attributes.tenant_id = "acme"');
  });

  it("the catch-all's filter negates every tenant's; with no tenant there is none", () => {
    expect(catchAllFilter(["acme"])).toBe('NOT attributes:tenant_id OR NOT (attributes.tenant_id = "acme")');
    expect(() => catchAllFilter([])).toThrow("catchAllFilter: no tenants");
  });

  it("the catch-all's filter takes tenant ids only, so that no literal ever needs escaping", () => {
    // A quote or a backslash would end or escape the literal; a space or an empty id would make a filter that
    // selects something else than the tenant's worker leaves. Each is refused, naming the tenant.
    for (const id of ['ac"me', "ac\\me", "acme corp", "", "acmé"]) {
      expect(() => catchAllFilter(["globex", id]), id).toThrow(
        `catchAllFilter: tenant ${JSON.stringify(id)}: ${GRAMMAR}`,
      );
    }
    expect(() => catchAllFilter(["acme", "acme"])).toThrow('catchAllFilter: tenant "acme": listed twice');
  });

  it("the catch-all's reader refuses every message, the first tenant problem named", () => {
    const tenants = ["acme", "globex"];
    const none = "no tenant's worker takes the message (tenants: acme, globex)";
    const field = "attributes.tenant_id";
    expect(checkCatchAllTenant({ correlation_id: "r" }, tenants)).toEqual({ field, reason: `is missing: ${none}` });
    expect(checkCatchAllTenant({ tenant_id: "acme:eu" }, tenants)).toEqual({
      field,
      reason: `${GRAMMAR} "acme:eu": ${none}`,
    });
    expect(checkCatchAllTenant({ tenant_id: "Acme" }, tenants)).toEqual({
      field,
      reason: `is "Acme", not one of the tenants: ${none}`,
    });
    // A message the tenant's worker takes (it reached the catch-all only where filters are not applied): marked by
    // its own field, so that a replay of the dead letters skips it.
    expect(CATCH_ALL_MISROUTED).toBe("tidemark_catch_all_misrouted");
    expect(checkCatchAllTenant({ tenant_id: "globex" }, tenants)).toEqual({
      field: CATCH_ALL_MISROUTED,
      reason:
        "is \"globex\": tenant globex's worker takes the message, not the catch-all's reader (whose filter leaves it " +
        "out where Pub/Sub applies filters)",
    });
  });
});

describe("checkMessageTenant: the attribute against the payload, and a tenant's worker", () => {
  it.each<[string, Record<string, string>, string, string | undefined, ReturnType<typeof checkMessageTenant>]>([
    ["shared: the attribute agrees", { tenant_id: "acme" }, "acme", undefined, undefined],
    ["shared: no attribute (the payload says the tenant)", {}, "acme", undefined, undefined],
    ["shared: other attributes only", { correlation_id: "r1" }, "acme", undefined, undefined],
    [
      "shared: a forged attribute",
      { tenant_id: "acme" },
      "globex",
      undefined,
      {
        field: "attributes.tenant_id",
        reason: 'is "acme" but the payload\'s tenant_id is "globex": written under neither tenant',
      },
    ],
    [
      "shared: an empty attribute",
      { tenant_id: "" },
      "acme",
      undefined,
      {
        field: "attributes.tenant_id",
        reason: 'is "" but the payload\'s tenant_id is "acme": written under neither tenant',
      },
    ],
    ["worker: its tenant, attribute and payload", { tenant_id: "acme" }, "acme", "acme", undefined],
    [
      "worker: another tenant's message",
      { tenant_id: "globex" },
      "globex",
      "acme",
      { field: "tenant_id", reason: 'is "globex", not this worker\'s tenant (--tenant=acme)' },
    ],
    [
      "worker: a forged attribute naming the worker's tenant (the forgery is what is said)",
      { tenant_id: "acme" },
      "globex",
      "acme",
      {
        field: "attributes.tenant_id",
        reason: 'is "acme" but the payload\'s tenant_id is "globex": written under neither tenant',
      },
    ],
    [
      "worker: another tenant's payload without the attribute",
      {},
      "globex",
      "acme",
      { field: "tenant_id", reason: 'is "globex", not this worker\'s tenant (--tenant=acme)' },
    ],
    [
      "worker: its tenant's payload without the attribute (the filter would not have selected it)",
      {},
      "acme",
      "acme",
      {
        field: "attributes.tenant_id",
        reason:
          "is missing: this worker (--tenant=acme) takes only the messages its subscription's filter selects " +
          '(attributes.tenant_id = "acme")',
      },
    ],
  ])("%s", (_, attributes, payloadTenant, worker, expected) => {
    expect(checkMessageTenant(attributes, payloadTenant, worker)).toEqual(expected);
  });
});
