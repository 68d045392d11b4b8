import { readFileSync } from "node:fs";
import { createServer, type ServerResponse } from "node:http";
import { listen } from "../listen.ts";
import type { ChangeView, DashboardView } from "./dashboard-view.ts";

/** The page's files, served from this folder as they are (no build step): path, file, content type. */
const FILES: readonly (readonly [path: string, file: string, type: string])[] = [
  ["/", "index.html", "text/html; charset=utf-8"],
  ["/dashboard.js", "dashboard.js", "text/javascript; charset=utf-8"],
  ["/dashboard.css", "dashboard.css", "text/css; charset=utf-8"],
];

export interface DashboardServer {
  readonly port: number;
  readonly url: string;
  /** Pushes changes that just committed to every open page (and keeps the latest per key for pages opened later). */
  publish(changes: readonly ChangeView[]): void;
  /** Pushes the last view (its state `ended`), ends every page's stream and stops listening. */
  close(): Promise<void>;
}

export interface DashboardServerOptions {
  /** 0: a free port. */
  readonly port: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** The figures as they are now; read for every push. */
  readonly view: (state: "running" | "ended") => DashboardView;
  /** How often the view is pushed. Default 1 s. */
  readonly intervalMs?: number;
  /** How many keys' latest changes are kept for a page that opens later (and sent at once). Default 100. */
  readonly retainChanges?: number;
}

/**
 * The live dashboard over HTTP:
 * - `GET /` (with `/dashboard.js`, `/dashboard.css`): the page, from this folder, with nothing fetched from elsewhere;
 * - `GET /events`: server-sent events (`text/event-stream`): `view` (a `DashboardView`, JSON) at once and every
 *   `intervalMs`; `changes` (`{ total, changes: ChangeView[] }`) as they commit, the retained ones first; `end` after
 *   the last view, when the job is over.
 * Anything else is 404. Like the ops server, it does not keep the process alive: the listener, the timer and every
 * page's connection are unreferenced, so a job that ends (or fails) exits without closing it.
 */
export async function startDashboardServer(options: DashboardServerOptions): Promise<DashboardServer> {
  const pages = new Map<string, { readonly body: Buffer; readonly type: string }>();
  for (const [path, file, type] of FILES) {
    pages.set(path, { body: readFileSync(new URL(file, import.meta.url)), type });
  }
  const streams = new Set<ServerResponse>();
  const retain = options.retainChanges ?? 100;
  /** The latest change per key, oldest first (a Map keeps insertion order: a key changed again moves to the end). */
  const latest = new Map<string, ChangeView>();
  let total = 0;
  let ended = false;

  /**
   * A reader that does not keep up: a view (a snapshot, the next one replaces it) is skipped while its buffer drains;
   * one with more than 4 MiB waiting is dropped (its page reconnects and gets the state again).
   */
  const send = (res: ServerResponse, event: string, data: unknown) => {
    if (res.writableLength > 4 * 2 ** 20) {
      streams.delete(res);
      res.destroy();
      return;
    }
    if (event === "view" && res.writableNeedDrain) return;
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const broadcast = (event: string, data: unknown) => {
    for (const res of streams) send(res, event, data);
  };
  const pushView = (state: "running" | "ended") => {
    if (streams.size > 0 || state === "ended") broadcast("view", options.view(state));
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    const page = pages.get(path);
    if (page !== undefined) {
      res.writeHead(200, { "content-type": page.type, "cache-control": "no-cache" }).end(page.body);
      return;
    }
    if (path === "/events") {
      req.socket.unref();
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        connection: "keep-alive",
      });
      res.write("retry: 2000\n\n");
      send(res, "view", options.view(ended ? "ended" : "running"));
      if (latest.size > 0) send(res, "changes", { total, changes: [...latest.values()] });
      if (ended) {
        send(res, "end", {});
        res.end();
        return;
      }
      streams.add(res);
      res.on("close", () => streams.delete(res));
      return;
    }
    res
      .writeHead(404, { "content-type": "text/plain; charset=utf-8" })
      .end("not found: / (the dashboard), /events (its server-sent events)\n");
  });
  const listening = await listen(server, options.port, options.host ?? "127.0.0.1");
  const timer = setInterval(() => pushView("running"), options.intervalMs ?? 1_000);
  timer.unref();
  return {
    port: listening.port,
    url: listening.url,
    publish(changes) {
      if (changes.length === 0) return;
      total += changes.length;
      for (const c of changes) {
        latest.delete(c.key);
        latest.set(c.key, c);
      }
      while (latest.size > retain) latest.delete(latest.keys().next().value as string);
      broadcast("changes", { total, changes: changes.slice(-retain) });
    },
    async close() {
      if (ended) return;
      ended = true;
      clearInterval(timer);
      pushView("ended");
      broadcast("end", {});
      const open = [...streams];
      streams.clear();
      // Ended for every reader; one that does not read is not waited for (closeAllConnections cuts it).
      for (const res of open) res.end();
      await listening.stop();
    },
  };
}
