// The live dashboard: renders the views and changes the server pushes on /events (see dashboard-server.ts and the
// DashboardView type in dashboard-view.ts). Plain browser JavaScript, served as it is: no build step, nothing from
// elsewhere (a module script). Every value shown carries its raw figure in data-value.

/** The latest change per key, newest first, as the page keeps them (the server retains as many). */
const MAX_CHANGES = 100;
/** Throughput readings kept for the sparkline (one per view: about a minute). */
const SPARK_POINTS = 60;

const counts = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const decimals = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

const state = {
  views: 0,
  ended: false,
  throughput: [],
  /** key → its <li>, in the list's order. */
  changes: new Map(),
  totalChanges: 0,
};

/** An element with attributes (`text` sets its text; `data-*` and others as given) and children. */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === "text") e.textContent = v;
    else if (k === "className") e.className = v;
    else e.setAttribute(k, String(v));
  }
  for (const c of children) if (c) e.append(c);
  return e;
}

function formatCount(n) {
  return n === null || n === undefined ? "–" : counts.format(n);
}

function formatRate(n) {
  if (n === null || n === undefined) return "–";
  return n < 10 ? decimals.format(n) : counts.format(n);
}

/** A duration in seconds, in the largest two units that say it (`4 min 5 s`). */
function formatSeconds(s) {
  if (s === null || s === undefined) return "–";
  const sign = s < 0 ? "−" : "";
  const v = Math.round(Math.abs(s) * 10) / 10;
  if (v < 10) return `${sign}${decimals.format(v)} s`;
  const whole = Math.round(v);
  const units = [
    ["d", 86400],
    ["h", 3600],
    ["min", 60],
    ["s", 1],
  ];
  const i = units.findIndex(([, size]) => whole >= size);
  const [name, size] = units[i];
  const n = Math.floor(whole / size);
  const next = units[i + 1];
  const m = next === undefined ? 0 : Math.floor((whole - n * size) / next[1]);
  return m > 0 ? `${sign}${n} ${name} ${m} ${next[0]}` : `${sign}${n} ${name}`;
}

/** Epoch ms as `YYYY-MM-DD hh:mm:ssZ`. */
function formatTime(ms) {
  return new Date(ms)
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, "Z");
}

function formatWatermark(w) {
  if (w === null) return "not yet known";
  if (w === "end") return "end of input";
  return formatTime(w);
}

function formatFigure(value, unit) {
  switch (unit) {
    case "count":
      return formatCount(value);
    case "seconds":
      return formatSeconds(value);
    default:
      return String(value);
  }
}

/** A card's element: its name, value and note, filled by `syncCards`. */
function newCard(id) {
  return el(
    "div",
    { className: "card", "data-figure": id },
    el("span", { className: "name" }),
    el("span", { className: "value" }),
    el("span", { className: "note" }),
  );
}

/** The throughput's sparkline in `card` (made on first use): the last readings, scaled to the highest. */
function drawSparkline(card, values) {
  let line = card.querySelector("polyline");
  if (line === null) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", `0 0 ${SPARK_POINTS - 1} 30`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("aria-hidden", "true");
    line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    svg.append(line);
    card.append(svg);
  }
  const max = Math.max(1, ...values);
  const offset = SPARK_POINTS - values.length;
  line.setAttribute("points", values.map((v, i) => `${i + offset},${(29 - (v / max) * 28).toFixed(1)}`).join(" "));
}

/** The cards as `specs` say, updated in place: a card keeps its element while its figure is shown. */
function syncCards(specs) {
  const container = document.getElementById("cards");
  const existing = new Map([...container.children].map((c) => [c.dataset.figure, c]));
  const cards = specs.map((spec) => {
    const c = existing.get(spec.id) ?? newCard(spec.id);
    c.querySelector(".name").textContent = spec.name;
    const value = c.querySelector(".value");
    value.textContent = spec.text;
    value.dataset.value = spec.value === null ? "" : String(spec.value);
    const note = c.querySelector(".note");
    note.textContent = spec.note ?? "";
    note.hidden = !spec.note;
    for (const [k, v] of Object.entries(spec.data ?? {})) c.dataset[k] = v;
    if (spec.spark) drawSparkline(c, spec.spark);
    return c;
  });
  const same = cards.length === container.children.length && cards.every((c, i) => container.children[i] === c);
  if (!same) container.replaceChildren(...cards);
}

function renderCards(view) {
  const read = view.sources.reduce((n, s) => n + s.read, 0);
  const rates = view.sources.map((s) => s.perSecond).filter((r) => r !== null);
  const rate = rates.length === 0 ? null : rates.reduce((a, b) => a + b, 0);
  state.throughput.push(rate ?? 0);
  if (state.throughput.length > SPARK_POINTS) state.throughput.shift();
  const lags = view.sources.map((s) => s.lagSeconds).filter((l) => l !== null);
  const lag = lags.length === 0 ? null : Math.max(...lags);
  const cp = view.checkpoints;
  syncCards([
    { id: "read", name: "Messages read", value: read, text: formatCount(read) },
    {
      id: "throughput",
      name: "Throughput (messages/s)",
      value: rate,
      text: formatRate(rate),
      note: "over the last 5 s",
      spark: state.throughput,
    },
    {
      id: "lag",
      name: "Watermark lag",
      value: lag,
      text: formatSeconds(lag),
      note: "wall clock minus the source's watermark",
    },
    {
      id: "checkpoint-age",
      name: "Checkpoint age",
      value: cp.ageSeconds,
      text: cp.lastAtMs === null ? "none yet" : formatSeconds(cp.ageSeconds),
      note: `${formatCount(cp.checkpoints)} checkpoints, ${formatCount(cp.commits)} commits`,
      data: { checkpoints: String(cp.checkpoints) },
    },
    ...view.figures.map((f) => ({
      id: f.id,
      name: f.name,
      value: f.value,
      text: formatFigure(f.value, f.unit),
      note: f.note,
    })),
  ]);
}

function cell(text, value, className) {
  return el("td", { text, className, "data-value": value });
}

/** A step's name, which may break after each `/` on a narrow screen. */
function stepCell(step) {
  const td = el("td", { className: "step" });
  step.split("/").forEach((part, i) => {
    if (i > 0) td.append("/", document.createElement("wbr"));
    td.append(part);
  });
  return td;
}

function emptyRow(columns, text) {
  return el("tr", {}, el("td", { colspan: columns, className: "empty", text }));
}

function renderSources(view) {
  const rows = view.sources.map((s) =>
    el(
      "tr",
      { "data-step": s.step },
      stepCell(s.step),
      cell(formatWatermark(s.watermarkMs), s.watermarkMs ?? "", "watermark"),
      cell(formatSeconds(s.lagSeconds), s.lagSeconds ?? "", "num lag"),
      cell(formatCount(s.read), s.read, "num read"),
      cell(formatRate(s.perSecond), s.perSecond ?? "", "num rate"),
    ),
  );
  document
    .querySelector("#sources tbody")
    .replaceChildren(...(rows.length > 0 ? rows : [emptyRow(5, "the job has not started yet")]));
}

function renderWindows(view) {
  const rows = view.windows.map((w) =>
    el(
      "tr",
      { "data-step": w.step },
      stepCell(w.step),
      cell(formatCount(w.open), w.open, "num open"),
      cell(formatCount(w.droppedLate), w.droppedLate, "num dropped"),
    ),
  );
  document
    .querySelector("#windows tbody")
    .replaceChildren(...(rows.length > 0 ? rows : [emptyRow(3, "no grouping step yet")]));
}

function renderBreakdowns(view) {
  const sections = view.breakdowns.map((b) => {
    const rows = b.rows.map((r) =>
      el("tr", { "data-label": r.label }, cell(r.label), cell(formatCount(r.value), r.value, "num")),
    );
    return el(
      "section",
      { "data-breakdown": b.id },
      el("h2", { text: b.title }),
      el(
        "div",
        { className: "table-wrap" },
        el(
          "table",
          {},
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              el("th", { scope: "col", text: b.label }),
              el("th", { scope: "col", className: "num", text: "count" }),
            ),
          ),
          el("tbody", {}, ...(rows.length > 0 ? rows : [emptyRow(2, b.empty)])),
        ),
      ),
    );
  });
  document.getElementById("breakdowns").replaceChildren(...sections);
}

function renderView(view) {
  state.views++;
  document.getElementById("title").textContent = view.title;
  document.getElementById("subtitle").textContent = view.subtitle ?? "";
  document.title = `${view.title} · live`;
  renderCards(view);
  renderSources(view);
  renderWindows(view);
  renderBreakdowns(view);
  const updated = document.getElementById("updated");
  updated.dataset.at = String(view.atMs);
  updated.dataset.updates = String(state.views);
  updated.textContent = `updated ${formatTime(view.atMs).slice(11)} · ${formatCount(state.views)} update${state.views === 1 ? "" : "s"}`;
  if (view.state === "ended") setStatus("ended", "job ended");
  else if (!state.ended) setStatus("live", view.state === "starting" ? "starting" : "live");
}

function setStatus(key, text) {
  const s = document.getElementById("status");
  s.dataset.state = key;
  s.textContent = text;
}

function changeItem(change) {
  const fields = change.fields.map((f) =>
    el(
      "div",
      { "data-field": f.name, "data-value": typeof f.value === "string" ? f.value : JSON.stringify(f.value) },
      el("dt", { text: f.label }),
      el("dd", { text: f.text }),
    ),
  );
  return el(
    "li",
    { className: "fresh", "data-key": change.key, "data-kind": change.kind },
    el(
      "div",
      { className: "change-head" },
      el("span", { className: "kind", text: change.kind === "delete" ? "merged away" : "upsert" }),
      el("strong", { text: change.title }),
      el("time", { datetime: new Date(change.atMs).toISOString(), text: formatTime(change.atMs).slice(11) }),
    ),
    fields.length > 0 ? el("dl", {}, ...fields) : null,
  );
}

function renderChanges(batch) {
  state.totalChanges = batch.total;
  const list = document.getElementById("changes");
  for (const change of batch.changes) {
    state.changes.get(change.key)?.remove();
    const item = changeItem(change);
    state.changes.delete(change.key);
    state.changes.set(change.key, item);
    list.prepend(item);
  }
  while (state.changes.size > MAX_CHANGES) {
    const [key, item] = state.changes.entries().next().value;
    item.remove();
    state.changes.delete(key);
  }
  const note = document.getElementById("changes-note");
  note.dataset.total = String(batch.total);
  note.textContent =
    `${formatCount(batch.total)} changes committed since this page opened or the job started; ` +
    `the latest of each session, newest first (up to ${MAX_CHANGES}).`;
}

function connect() {
  const events = new EventSource("events");
  events.addEventListener("view", (e) => renderView(JSON.parse(e.data)));
  events.addEventListener("changes", (e) => renderChanges(JSON.parse(e.data)));
  events.addEventListener("end", () => {
    state.ended = true;
    setStatus("ended", "job ended");
    events.close();
  });
  events.addEventListener("error", () => {
    if (!state.ended) setStatus("reconnecting", "reconnecting…");
  });
}

connect();
