/**
 * A newcomer's view of `--ui-port`: the command line on a Pub/Sub subscription (the official emulator), its dashboard
 * open in headless Chromium (Debian's, driven by playwright-core) while the job runs. The page shows what `/metrics`
 * of the same run says, updates itself as more messages come (no reload), fits a phone's width, and its list of Gold
 * changes ends equal to the warehouse's `gold_sessions`. Screenshots (desktop and phone) go to `test-artifacts/`, and
 * to `docs/` with `UPDATE_SCREENSHOTS=1` (the README's).
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import { provision } from "../../../io/pubsub/provision.ts";
import { PubsubPublisher } from "../../../io/pubsub/pubsub-sink.ts";
import { generateMessages } from "../../../pipelines/user-sessions/generate.ts";
import { findChromium } from "../../chromium.ts";
import { useEmulator } from "../../io/pubsub/emulator-fixture.ts";
import { parseExposition } from "../../runners/observe/exposition.ts";
import { until } from "../../until.ts";
import { cliOnPubsub } from "./cli-on-pubsub.ts";

const PROJECT = "tidemark-dashboard";
const pubsub = useEmulator(PROJECT);
const ARTIFACTS = "test-artifacts";

/** What the page shows, read from its DOM (the text a reader sees, numbers parsed back; raw values where noted). */
interface PageFigures {
  readonly state: string;
  /** The view's time (`data-at`) and how many views the page has rendered. */
  readonly atMs: number;
  readonly updates: number;
  readonly cards: Readonly<Record<string, string>>;
  readonly checkpoints: number;
  readonly sources: readonly { step: string; watermark: string; watermarkText: string; lag: string; read: string }[];
  readonly windows: Readonly<Record<string, string>>;
  readonly deadLetters: Readonly<Record<string, string>>;
  readonly changesTotal: number;
  readonly changes: readonly { key: string; kind: string; fields: Readonly<Record<string, string>> }[];
}

/** Runs in the page (serialized by playwright): the DOM as `PageFigures`. */
function readPage(): PageFigures {
  interface Node {
    readonly textContent: string | null;
    getAttribute(name: string): string | null;
    querySelector(selector: string): Node | null;
    querySelectorAll(selector: string): Iterable<Node>;
  }
  const doc = (globalThis as unknown as { document: Node }).document;
  const text = (n: Node | null) => (n?.textContent ?? "").trim();
  const attr = (n: Node | null, name: string) => n?.getAttribute(name) ?? "";
  const byLabel = (rows: Iterable<Node>, label: string, value: string) =>
    Object.fromEntries([...rows].map((r) => [attr(r, label), text(r.querySelector(value))]));
  const updated = doc.querySelector("#updated");
  return {
    state: attr(doc.querySelector("#status"), "data-state"),
    atMs: Number(attr(updated, "data-at")),
    updates: Number(attr(updated, "data-updates")),
    cards: Object.fromEntries(
      [...doc.querySelectorAll("#cards [data-figure]")].map((c) => [
        attr(c, "data-figure"),
        text(c.querySelector(".value")),
      ]),
    ),
    checkpoints: Number(attr(doc.querySelector('[data-figure="checkpoint-age"]'), "data-checkpoints")),
    sources: [...doc.querySelectorAll("#sources tr[data-step]")].map((r) => ({
      step: attr(r, "data-step"),
      watermark: attr(r.querySelector(".watermark"), "data-value"),
      watermarkText: text(r.querySelector(".watermark")),
      lag: attr(r.querySelector(".lag"), "data-value"),
      read: text(r.querySelector(".read")),
    })),
    windows: byLabel(doc.querySelectorAll("#windows tr[data-step]"), "data-step", ".open"),
    deadLetters: byLabel(doc.querySelectorAll('[data-breakdown="dead-letters"] tr[data-label]'), "data-label", ".num"),
    changesTotal: Number(attr(doc.querySelector("#changes-note"), "data-total")),
    changes: [...doc.querySelectorAll("#changes > li")].map((li) => ({
      key: attr(li, "data-key"),
      kind: attr(li, "data-kind"),
      fields: Object.fromEntries(
        [...li.querySelectorAll("[data-field]")].map((f) => [attr(f, "data-field"), text(f.querySelector("dd"))]),
      ),
    })),
  };
}

/** A count as the page prints it (`1,234`). */
function count(shown: string | undefined): number {
  if (shown === undefined) throw new Error("no such figure on the page");
  return Number(shown.replace(/,/g, ""));
}

/** The figures the page and `/metrics` both give, by name: from the page's DOM, or from a scrape. */
type Compared = Record<string, number>;

/** The page's figures that `/metrics` also serves (counts as printed, the watermark's raw value). */
function pageCompared(p: PageFigures): Compared {
  const read = p.sources.find((s) => s.step === "Read");
  const out: Compared = {
    "messages read (card)": count(p.cards.read),
    "messages read (Read row)": count(read?.read),
    "Read's watermark (ms)": Number(read?.watermark),
    backlog: count(p.cards.backlog),
    acknowledged: count(p.cards.acknowledged),
    checkpoints: p.checkpoints,
    "Gold changes written": count(p.cards["gold-written"]),
    "dead letters (card)": count(p.cards["dead-letters"]),
  };
  for (const [field, n] of Object.entries(p.deadLetters)) out[`dead letters, field ${field}`] = count(n);
  for (const [step, n] of Object.entries(p.windows)) out[`open windows of ${step}`] = count(n);
  return out;
}

/** The same figures from a scrape of `/metrics`. */
function metricsCompared(text: string): Compared {
  const m = parseExposition(text);
  const read = m.value("tidemark_step_elements_out_total", { step: "Read" });
  const sum = (name: string, keep: (labels: Readonly<Record<string, string>>) => boolean) =>
    m
      .samples(name)
      .filter((s) => keep(s.labels))
      .reduce((n, s) => n + s.value, 0);
  const out: Compared = {
    "messages read (card)": read,
    "messages read (Read row)": read,
    "Read's watermark (ms)": Math.round(m.value("tidemark_step_output_watermark_seconds", { step: "Read" }) * 1000),
    backlog: m.value("tidemark_pubsub_outstanding_messages", {}),
    acknowledged: m.value("tidemark_pubsub_acknowledged_total", {}),
    checkpoints: m.value("tidemark_checkpoints_total", {}),
    "Gold changes written": sum("tidemark_sink_rows_written_total", (l) => l.sink === "gold_sessions"),
    "dead letters (card)": sum("medallion_dead_letters_total", () => true),
  };
  for (const s of m.samples("medallion_dead_letters_total")) {
    const key = `dead letters, field ${s.labels.field}`;
    out[key] = (out[key] ?? 0) + s.value;
  }
  for (const s of m.samples("tidemark_step_open_windows")) out[`open windows of ${s.labels.step}`] = s.value;
  return out;
}

/** Figures that only grow: a scrape between two views lies between them. The others equal one of the two. */
const MONOTONE = /^(messages read|Read's watermark|acknowledged|checkpoints|Gold changes|dead letters)/;

/**
 * Where a scrape differs from the page's views just before it (`before`) and just after it (`after`): empty when they
 * agree. A figure that only grows must lie between the two views; any other must equal one of them.
 */
function differences(before: PageFigures, text: string, after: PageFigures): string[] {
  const [b, m, a] = [pageCompared(before), metricsCompared(text), pageCompared(after)];
  const diffs: string[] = [];
  for (const name of new Set([...Object.keys(m), ...Object.keys(a)])) {
    const [lo, value, hi] = [b[name], m[name], a[name]];
    const agrees =
      value !== undefined &&
      (MONOTONE.test(name) && lo !== undefined && hi !== undefined
        ? lo <= value && value <= hi
        : value === lo || value === hi);
    if (!agrees) diffs.push(`${name}: page ${lo} then ${hi}, /metrics ${value}`);
  }
  // As /metrics computes it: the lag is the view's time minus the watermark shown.
  for (const s of after.sources) {
    if (Math.abs(Number(s.lag) - (after.atMs - Number(s.watermark)) / 1000) > 0.001) {
      diffs.push(`${s.step}'s lag ${s.lag} s is not its view's time minus its watermark`);
    }
    if (
      s.watermarkText !==
      new Date(Number(s.watermark))
        .toISOString()
        .replace("T", " ")
        .replace(/\.\d+Z$/, "Z")
    ) {
      diffs.push(`${s.step}'s watermark shows ${s.watermarkText} for ${s.watermark}`);
    }
  }
  return diffs;
}

async function readFigures(page: Page): Promise<PageFigures> {
  return page.evaluate(readPage);
}

describe("the command line's --ui-port on Pub/Sub, in a browser", () => {
  it("shows what /metrics says, updates itself, fits a phone, and lists the Gold sessions the warehouse holds", async () => {
    const executablePath = findChromium();
    const dir = mkdtempSync(join(tmpdir(), "tidemark-dashboard-"));
    await provision(pubsub.client(), {
      topics: [{ name: "events", subscriptions: [{ name: "medallion", ackDeadlineSeconds: 10 }] }],
    });
    const messages = generateMessages({ users: 10, seed: 11, startMs: Date.now() });
    const half = Math.floor(messages.length / 2);
    const publisher = new PubsubPublisher({ pubsub: pubsub.client(), topic: "events" });
    const publish = async (part: typeof messages) => {
      for (const { message } of part) publisher.publish({ data: message.data, attributes: message.attributes });
      await publisher.flush();
    };
    await publish(messages.slice(0, half));
    const db = join(dir, "dashboard.duckdb");
    const run = cliOnPubsub({
      project: PROJECT,
      subscription: "medallion",
      endpoint: pubsub.emulator().endpoint,
      args: [
        `--warehouse=duckdb:${db}`,
        "--metrics-port=0",
        "--ui-port=0",
        `--checkpoint-dir=${join(dir, "checkpoints")}`,
        "--checkpoint-seconds=1",
        `--max-messages=${messages.length}`,
        "--stop-when-idle=60",
      ],
    });
    const { child, exit } = run;
    const out = () => run.output();
    let browser: Browser | undefined;
    try {
      const metricsUrl = await run.address("metrics");
      const uiUrl = await run.address("dashboard");
      const scrape = async () => (await fetch(`${metricsUrl}/metrics`)).text();
      // The first half read, acknowledged, and Gold written (early panes, after their checkpoint): the job then waits.
      await until(
        "the first half acknowledged and Gold written",
        async () => {
          const m = parseExposition(await scrape());
          const gold = m.samples("tidemark_sink_rows_written_total").filter((s) => s.labels.sink === "gold_sessions");
          return m.value("tidemark_pubsub_acknowledged_total", {}) === half && gold.some((s) => s.value > 0);
        },
        { timeoutMs: 90_000, state: out },
      );

      browser = await chromium.launch({ executablePath });
      const desktop = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      let navigations = 0;
      desktop.on("framenavigated", (frame) => {
        if (frame === desktop.mainFrame()) navigations++;
      });
      const requests: string[] = [];
      desktop.on("request", (r) => requests.push(r.url()));
      await desktop.goto(uiUrl);

      // The page agrees with a scrape of the same run: the scrape lies between the view before it and the one after
      // it (a view is pushed every second; asked again until they agree, as the job may move meanwhile).
      let lastDiffs: string[] = [];
      await until(
        "the page shows what /metrics says",
        async () => {
          const before = await readFigures(desktop);
          if (before.sources.length === 0) return false;
          const text = await scrape();
          const scrapedAtMs = Date.now();
          let after = before;
          await until("a view after the scrape", async () => {
            after = await readFigures(desktop);
            return after.atMs > scrapedAtMs;
          });
          lastDiffs = differences(before, text, after);
          return lastDiffs.length === 0;
        },
        { timeoutMs: 30_000, state: () => lastDiffs.join("; ") },
      );
      const mid = await readFigures(desktop);
      expect(mid.state).toBe("live");
      expect(count(mid.cards.read)).toBe(half);
      expect(count(mid.cards.backlog)).toBe(0);
      expect(Object.keys(mid.deadLetters).length).toBeGreaterThan(0);
      expect(count(mid.cards["gold-written"])).toBeGreaterThan(0);
      expect(Object.keys(mid.windows)).toContain("GoldSessions/Aggregate");
      expect(mid.changes.length).toBeGreaterThan(0);
      // Offline: everything the page loaded came from the job's own server.
      expect(requests.every((u) => u.startsWith(uiUrl))).toBe(true);
      mkdirSync(ARTIFACTS, { recursive: true });
      // A few views in, for the throughput's sparkline.
      await until("a few views shown", async () => (await readFigures(desktop)).updates >= mid.updates + 3);
      await desktop.screenshot({ path: join(ARTIFACTS, "dashboard.png"), animations: "disabled" });

      // A phone: nothing wider than its 375 px, the figures in view.
      const phone = await browser.newPage({
        viewport: { width: 375, height: 812 },
        deviceScaleFactor: 2,
        isMobile: true,
        hasTouch: true,
      });
      await phone.goto(uiUrl);
      await until(
        "the phone's page shows the figures",
        async () => (await readFigures(phone)).cards.read === String(half),
      );
      expect(await phone.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(375);
      const edges = (await phone.evaluate(
        `[...document.querySelectorAll("#cards .card, section")].map((e) => e.getBoundingClientRect().right)`,
      )) as number[];
      expect(edges.length).toBeGreaterThanOrEqual(7 + 4);
      for (const right of edges) expect(right).toBeLessThanOrEqual(375);
      expect(
        await phone.evaluate(`parseFloat(getComputedStyle(document.querySelector("#cards .value")).fontSize)`),
      ).toBeGreaterThanOrEqual(20);
      await phone.screenshot({ path: join(ARTIFACTS, "dashboard-phone.png"), animations: "disabled" });
      await phone.close();
      if (process.env.UPDATE_SCREENSHOTS === "1") {
        mkdirSync("docs", { recursive: true });
        copyFileSync(join(ARTIFACTS, "dashboard.png"), join("docs", "dashboard.png"));
        copyFileSync(join(ARTIFACTS, "dashboard-phone.png"), join("docs", "dashboard-phone.png"));
      }

      // The second half: the open page follows without a reload, to the job's end.
      await desktop.evaluate("window.tidemarkMark = 42");
      await publish(messages.slice(half));
      let caughtUp: PageFigures | undefined;
      await until(
        "the page shows every message read",
        async () => {
          const p = await readFigures(desktop);
          if (count(p.cards.read) === messages.length) caughtUp = p;
          return caughtUp !== undefined;
        },
        { timeoutMs: 90_000, state: out },
      );
      // Read within the last 5 s: the throughput shows it.
      expect(count(caughtUp?.cards.throughput)).toBeGreaterThan(0);
      expect(await exit).toBe(0);
      await until("the page says the job ended", async () => (await readFigures(desktop)).state === "ended");
      const end = await readFigures(desktop);
      expect(await desktop.evaluate("window.tidemarkMark")).toBe(42);
      expect(navigations).toBe(1);
      expect(end.updates).toBeGreaterThan(mid.updates);
      expect(end.changesTotal).toBeGreaterThan(mid.changesTotal);
      expect(count(end.cards.backlog)).toBe(0);
      expect(count(end.cards.acknowledged)).toBe(messages.length);

      // Its Gold list (the latest change per session) is the warehouse's gold_sessions.
      const w = await DuckDbWarehouse.create(db);
      let rows: Record<string, unknown>[];
      try {
        rows = await w.query("SELECT session_id, event_count, revenue FROM gold_sessions ORDER BY session_id");
      } finally {
        await w.close();
      }
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.length).toBeLessThan(100); // the page keeps the latest 100 sessions
      const shown = end.changes
        .filter((c) => c.kind === "upsert")
        .map((c) => ({
          session_id: c.key,
          event_count: Number(c.fields.event_count),
          revenue: c.fields.revenue,
        }))
        .sort((a, b) => (a.session_id < b.session_id ? -1 : 1));
      expect(shown).toEqual(
        rows.map((r) => ({
          session_id: r.session_id,
          event_count: Number(r.event_count),
          revenue: Number(r.revenue).toFixed(2),
        })),
      );
      const held = new Set(rows.map((r) => r.session_id));
      for (const c of end.changes.filter((c) => c.kind === "delete")) expect(held.has(c.key)).toBe(false);
    } finally {
      await browser?.close();
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
