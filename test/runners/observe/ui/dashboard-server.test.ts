import { afterEach, describe, expect, it } from "vitest";
import { MAX_TIMESTAMP, MIN_TIMESTAMP } from "../../../../core/time/instant.ts";
import type { MetricsSnapshot, StepMetrics } from "../../../../runners/direct/metrics.ts";
import { CommitStats } from "../../../../runners/observe/commit-stats.ts";
import { type DashboardServer, startDashboardServer } from "../../../../runners/observe/ui/dashboard-server.ts";
import {
  type ChangeView,
  checkpointFigures,
  type DashboardView,
  RateMeter,
  runnerFigures,
} from "../../../../runners/observe/ui/dashboard-view.ts";

function step(s: Partial<StepMetrics> & Pick<StepMetrics, "step" | "kind">): StepMetrics {
  return {
    elementsIn: 0,
    elementsOut: 0,
    droppedLate: 0,
    droppedClosed: 0,
    inputWatermark: MIN_TIMESTAMP,
    outputWatermark: MIN_TIMESTAMP,
    ...s,
  };
}

function snapshot(steps: StepMetrics[]): MetricsSnapshot {
  return { steps, user: [], processingTime: 0, sourceEvents: 0 };
}

describe("the dashboard's figures", () => {
  it("reads each source's count, watermark and lag, and each grouping step's open windows", () => {
    const snap = snapshot([
      step({ step: "Read", kind: "read", elementsOut: 120, outputWatermark: 10_000 }),
      step({ step: "Parse", kind: "parDo", elementsIn: 120 }),
      step({ step: "Sessions", kind: "groupByKey", windows: 7, droppedLate: 2 }),
    ]);
    const figures = runnerFigures(snap, 25_000, new Map());
    expect(figures.sources).toEqual([
      { step: "Read", read: 120, perSecond: null, watermarkMs: 10_000, lagSeconds: 15 },
    ]);
    expect(figures.windows).toEqual([{ step: "Sessions", open: 7, droppedLate: 2 }]);
  });

  it("says when a watermark is not known yet or at the end of time, with no lag then", () => {
    const rates = new Map<string, RateMeter>();
    const before = runnerFigures(snapshot([step({ step: "Read", kind: "read" })]), 1_000, rates);
    expect(before.sources[0]).toMatchObject({ watermarkMs: null, lagSeconds: null });
    const end = runnerFigures(
      snapshot([step({ step: "Read", kind: "read", outputWatermark: MAX_TIMESTAMP })]),
      2_000,
      rates,
    );
    expect(end.sources[0]).toMatchObject({ watermarkMs: "end", lagSeconds: null });
    expect(JSON.parse(JSON.stringify(end.sources[0]))).toEqual(end.sources[0]);
  });

  it("gives the rate over the last 5 s of readings", () => {
    const meter = new RateMeter(5_000);
    expect(meter.sample(0, 0)).toBeNull();
    expect(meter.sample(100, 1_000)).toBe(100);
    expect(meter.sample(300, 2_000)).toBe(150);
    // Readings older than the window are dropped: 10 s on, the rate is that of the last 5 s.
    meter.sample(300, 6_000);
    meter.sample(300, 9_000);
    expect(meter.sample(800, 12_000)).toBeCloseTo(500 / 6, 5);
  });

  it("shows the commits and checkpoints JobMetrics serves, and ages the last checkpoint", () => {
    let now = 1_000;
    const commits = new CommitStats(() => now);
    expect(checkpointFigures(commits, now)).toEqual({ commits: 0, checkpoints: 0, lastAtMs: null, ageSeconds: null });
    for (const phase of [
      "writes-started",
      "writes-done",
      "checkpoint-written",
      "stable-input-written",
      "finalized",
    ] as const) {
      commits.onCommit(phase, { seq: 1 });
    }
    now = 4_500;
    expect(checkpointFigures(commits, now)).toEqual({ commits: 1, checkpoints: 1, lastAtMs: 1_000, ageSeconds: 3.5 });
  });
});

/** Reads server-sent events from `url` until `done` says enough (or the stream ends). */
async function readEvents(
  url: string,
  done: (events: { event: string; data: unknown }[]) => boolean,
): Promise<{ event: string; data: unknown }[]> {
  const res = await fetch(url);
  expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const events: { event: string; data: unknown }[] = [];
  let buffer = "";
  try {
    while (!done(events)) {
      const { value, done: ended } = await reader.read();
      if (ended) break;
      buffer += decoder.decode(value, { stream: true });
      let cut = buffer.indexOf("\n\n");
      while (cut >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) });
        cut = buffer.indexOf("\n\n");
      }
    }
  } finally {
    await reader.cancel();
  }
  return events;
}

function change(key: string, kind: "upsert" | "delete" = "upsert"): ChangeView {
  return { key, kind, atMs: 1, title: key, fields: [] };
}

describe("the dashboard's server", () => {
  let server: DashboardServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  const view = (state: "running" | "ended"): DashboardView => ({
    title: "job",
    atMs: 1,
    state,
    sources: [],
    windows: [],
    checkpoints: { commits: 0, checkpoints: 0, lastAtMs: null, ageSeconds: null },
    figures: [],
    breakdowns: [],
  });

  it("serves the page and its files from its own folder, and nothing else", async () => {
    server = await startDashboardServer({ port: 0, view });
    const page = await fetch(`${server.url}/`);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const html = await page.text();
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1" />');
    // Nothing from another host: every file the page names is served here.
    for (const ref of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
      expect(ref[1]).not.toMatch(/^(https?:)?\/\//);
      expect((await fetch(`${server.url}/${ref[1]}`)).status).toBe(200);
    }
    expect((await fetch(`${server.url}/dashboard.js`)).headers.get("content-type")).toMatch(/^text\/javascript/);
    expect((await fetch(`${server.url}/../package.json`)).status).toBe(404);
    expect((await fetch(`${server.url}/events`, { method: "POST" })).status).toBe(405);
  });

  it("sends a view at once, then every interval, and changes as they are published", async () => {
    server = await startDashboardServer({ port: 0, view, intervalMs: 50 });
    const s = server;
    const events = await readEvents(`${s.url}/events`, (got) => {
      if (got.length === 1) s.publish([change("a"), change("b")]);
      return got.filter((e) => e.event === "view").length >= 3 && got.some((e) => e.event === "changes");
    });
    expect(events[0]).toMatchObject({ event: "view", data: { title: "job", state: "running" } });
    expect(events.find((e) => e.event === "changes")?.data).toEqual({ total: 2, changes: [change("a"), change("b")] });
  });

  it("gives a page opened later the latest change of each key it retains, oldest first", async () => {
    server = await startDashboardServer({ port: 0, view, retainChanges: 2 });
    server.publish([change("a"), change("b")]);
    server.publish([change("a", "delete"), change("c")]);
    const events = await readEvents(`${server.url}/events`, (got) => got.some((e) => e.event === "changes"));
    expect(events.find((e) => e.event === "changes")?.data).toEqual({
      total: 4,
      changes: [change("a", "delete"), change("c")],
    });
  });

  it("ends every stream with the last view (the job ended) and `end` when closed", async () => {
    server = await startDashboardServer({ port: 0, view });
    const s = server;
    const events = await readEvents(`${s.url}/events`, (got) => {
      if (got.length === 1) void s.close();
      return false;
    });
    expect(events.map((e) => e.event)).toEqual(["view", "view", "end"]);
    expect(events[1]?.data).toMatchObject({ state: "ended" });
  });
});
