/** The Nexmark queries built so far, by name (Beam's numbering). */
import type { QueryConfig } from "./query-config.ts";
import { query0 } from "./query0.ts";
import { query1 } from "./query1.ts";
import { query2 } from "./query2.ts";
import { query3 } from "./query3.ts";
import { query4 } from "./query4.ts";
import { query5 } from "./query5.ts";
import { query6 } from "./query6.ts";
import { query7 } from "./query7.ts";
import { query8 } from "./query8.ts";
import { query9 } from "./query9.ts";
import { query10 } from "./query10.ts";
import { query11 } from "./query11.ts";
import { query12 } from "./query12.ts";
import type { NexmarkQuery } from "./query-util.ts";

export const QUERY_NAMES = ["q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9", "q10", "q11", "q12"] as const;
export type QueryName = (typeof QUERY_NAMES)[number];

export function isQueryName(s: string): s is QueryName {
  return (QUERY_NAMES as readonly string[]).includes(s);
}

/** Beam's number for a query name (`q11` is 11). */
export const queryNumber = (name: QueryName): number => Number(name.slice(1));

export function nexmarkQuery(name: QueryName, config: QueryConfig): NexmarkQuery<unknown> {
  switch (name) {
    case "q0":
      return query0();
    case "q1":
      return query1();
    case "q2":
      return query2(config);
    case "q3":
      return query3(config);
    case "q4":
      return query4(config);
    case "q5":
      return query5(config);
    case "q6":
      return query6(config);
    case "q7":
      return query7(config);
    case "q8":
      return query8(config);
    case "q9":
      return query9(config);
    case "q10":
      return query10(config);
    case "q11":
      return query11(config);
    case "q12":
      return query12(config);
  }
}
