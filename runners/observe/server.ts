import { createServer, type Server } from "node:http";
import { listen } from "./listen.ts";
import type { JobMetrics } from "./prometheus.ts";

/** One readiness check: its name, whether it holds, and why not. */
export interface ReadinessCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail?: string;
}

export interface OpsServer {
  /** The port it listens on (127.0.0.1 unless a host was given). */
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The job's operations endpoints over HTTP:
 * - `GET /metrics`: the Prometheus exposition of `metrics`;
 * - `GET /healthz`: 200 while the process serves (liveness);
 * - `GET /readyz`: 200 when every check holds, else 503; the body (JSON) lists every check with the reason of those
 *   that fail.
 * Anything else is 404. Listens on `port` (0: a free one) at `host` (default 127.0.0.1). The server does not keep the
 * process alive: a job that ends (or fails) exits without closing it.
 */
export async function startOpsServer(options: {
  readonly port: number;
  readonly host?: string;
  readonly metrics: JobMetrics;
  readonly readiness: () => readonly ReadinessCheck[];
}): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end("ok\n");
      return;
    }
    if (path === "/readyz") {
      let checks: readonly ReadinessCheck[];
      try {
        checks = options.readiness();
      } catch (e) {
        checks = [{ name: "readiness", ok: false, detail: e instanceof Error ? e.message : String(e) }];
      }
      const ready = checks.every((c) => c.ok);
      res
        .writeHead(ready ? 200 : 503, { "content-type": "application/json; charset=utf-8" })
        .end(`${JSON.stringify({ ready, checks })}\n`);
      return;
    }
    if (path === "/metrics") {
      options.metrics.text().then(
        (text) => res.writeHead(200, { "content-type": options.metrics.contentType }).end(text),
        (e: unknown) =>
          res
            .writeHead(500, { "content-type": "text/plain; charset=utf-8" })
            .end(`metrics failed: ${e instanceof Error ? e.message : String(e)}\n`),
      );
      return;
    }
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found: /metrics, /healthz, /readyz\n");
  });
  const { port, url, stop } = await listen(server, options.port, options.host ?? "127.0.0.1");
  return { port, url, close: stop };
}
