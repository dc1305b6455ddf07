"use strict";
// The host's console: polls the gateway's own JSON routes and draws them, charts included.
// Everything host-provided goes into the page as text (textContent, SVG attributes), never
// as markup: a function name or an event detail is somebody else's text.

const POLL_MS = 2000;
const MAX_EVENTS = 200;
const SVG = "http://www.w3.org/2000/svg";
const events = [];
let lastSeq = 0;

async function getJson(path) {
  const answer = await fetch(path, { headers: { accept: "application/json" }, cache: "no-store" });
  if (!answer.ok) throw new Error(`${path} answered ${answer.status}`);
  return answer.json();
}

function fmt(value, digits = 1) {
  return typeof value === "number" ? value.toFixed(digits) : "—";
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text === undefined || text === null || text === "" ? "—" : String(text);
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function fill(tableId, items, draw) {
  const body = document.querySelector(`#${tableId} tbody`);
  body.replaceChildren(...items.map((item) => {
    const row = document.createElement("tr");
    draw(row, item);
    return row;
  }));
}

// The payload of the verifier's token (a JWT), as the host relays it: not verified here.
function claims(token) {
  const part = typeof token === "string" ? token.split(".")[1] : undefined;
  if (!part) return {};
  try {
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)));
  } catch {
    return {};
  }
}

function expiry(exp) {
  if (typeof exp !== "number") return "—";
  const minutes = Math.round((exp * 1000 - Date.now()) / 60000);
  const when = new Date(exp * 1000).toISOString().replace(/\.\d+Z$/, "Z");
  return minutes >= 0 ? `${when} (in ${minutes} min)` : `${when} (expired)`;
}

const EMPTY = { total: { ok: 0, error: 0 }, window: { ok: 0, error: 0, per_s: 0 }, series: [] };

function drawFunctions(functions, stats) {
  fill("functions", functions, (row, f) => {
    const s = stats.functions[f.name] || EMPTY;
    row.dataset.function = f.name;
    cell(row, f.name);
    cell(row, f.version);
    cell(row, `${f.digest.slice(0, 16)}…`, "mono").title = f.digest;
    cell(row, s.total.ok);
    cell(row, s.total.error, s.total.error ? "bad" : "");
    cell(row, fmt(s.window.per_s, 2));
    cell(row, fmt(s.window.mean_ms));
    cell(row, fmt(s.window.p95_ms));
  });
}

function svg(name, attributes, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (parent) parent.appendChild(node);
  return node;
}

function label(parent, x, y, text, anchor = "start") {
  svg("text", { x, y, "text-anchor": anchor }, parent).textContent = text;
}

// One function's window: a bar per interval (ok green, errors red on top), mean latency a line.
function chart(name, s, windowS) {
  const [W, H, LEFT, TOP, BOTTOM] = [380, 130, 30, 12, 112];
  const figure = document.createElement("figure");
  figure.dataset.function = name;
  const caption = document.createElement("figcaption");
  caption.textContent = `${name}: ${s.window.ok} ok, ${s.window.error} errors, ` +
    `${fmt(s.window.per_s, 2)}/s, mean ${fmt(s.window.mean_ms)} ms`;
  figure.appendChild(caption);
  const plot = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img" }, figure);
  svg("title", {}, plot).textContent = `invocations and latency of ${name}`;
  const points = s.series;
  const most = Math.max(1, ...points.map((p) => p.ok + p.error));
  const slowest = Math.max(0, ...points.map((p) => p.mean_ms ?? 0));
  const width = (W - 2 * LEFT) / Math.max(points.length, 1);
  const height = BOTTOM - TOP;
  const line = [];
  points.forEach((p, i) => {
    const x = LEFT + i * width;
    const okH = (p.ok / most) * height;
    const errorH = (p.error / most) * height;
    if (p.ok) svg("rect", { class: "bar ok", x, y: BOTTOM - okH, width, height: okH, "data-count": p.ok }, plot);
    if (p.error) {
      svg("rect", {
        class: "bar error", x, y: BOTTOM - okH - errorH, width, height: errorH, "data-count": p.error,
      }, plot);
    }
    if (p.mean_ms !== null && slowest > 0) {
      line.push(`${x + width / 2},${BOTTOM - (p.mean_ms / slowest) * height}`);
    }
  });
  if (line.length) svg("polyline", { class: "latency", points: line.join(" ") }, plot);
  svg("line", { class: "axis", x1: LEFT, y1: BOTTOM, x2: W - LEFT, y2: BOTTOM }, plot);
  label(plot, 2, TOP + 4, `${most}`);
  label(plot, W - 2, TOP + 4, `${fmt(slowest)} ms`, "end");
  label(plot, LEFT, H - 4, `−${Math.round(windowS)} s`);
  label(plot, W - LEFT, H - 4, "now", "end");
  return figure;
}

function drawCharts(functions, stats) {
  document.getElementById("window").textContent =
    `(last ${Math.round(stats.window_s)} s, one bar per ${stats.interval_s} s; line: mean latency)`;
  const charts = functions.map((f) => chart(f.name, stats.functions[f.name] || EMPTY, stats.window_s));
  document.getElementById("charts").replaceChildren(...charts);
}

function drawEnclaves(enclaves) {
  document.getElementById("sim-warning").hidden = !enclaves.some((e) => e.tee === "sim");
  fill("enclaves", enclaves, (row, e) => {
    const c = claims(e.attestation);
    row.dataset.enclave = e.id;
    cell(row, e.id);
    cell(row, e.state);
    cell(row, e.tee ?? c.tee);
    cell(row, c.measurement, "mono");
    cell(row, c.tcb_status, c.tcb_status && c.tcb_status !== "UpToDate" ? "bad" : "");
    cell(row, c.advisories ? c.advisories.join(", ") || "none" : undefined);
    cell(row, c.debug === undefined ? undefined : c.debug ? "yes" : "no", c.debug ? "bad" : "");
    cell(row, expiry(c.exp));
    cell(row, (e.functions || []).join(", "));
    cell(row, e.inflight);
  });
}

function drawEvents(fresh) {
  for (const e of fresh) {
    events.unshift(e);
    lastSeq = Math.max(lastSeq, e.seq);
  }
  events.length = Math.min(events.length, MAX_EVENTS);
  fill("events", events, (row, e) => {
    row.dataset.kind = e.kind;
    cell(row, e.seq);
    cell(row, new Date(e.time * 1000).toLocaleTimeString());
    cell(row, e.kind);
    cell(row, Object.entries(e.detail || {}).map(([k, v]) => `${k}=${v}`).join(" "), "mono");
  });
}

async function refresh() {
  const status = document.getElementById("status");
  try {
    const [functions, enclaves, stats, fresh, health] = await Promise.all([
      getJson("/v1/functions"), getJson("/v1/enclaves"), getJson("/v1/stats"),
      getJson(`/v1/events?since=${lastSeq}`), getJson("/healthz"),
    ]);
    drawFunctions(functions, stats);
    drawCharts(functions, stats);
    drawEnclaves(enclaves);
    drawEvents(fresh);
    status.textContent = `gateway answering · ${functions.length} function(s) · ` +
      `${enclaves.length} enclave(s) · ${health.inflight ?? 0} in flight · ` +
      `updated ${new Date().toLocaleTimeString()}`;
    status.className = "status";
    document.body.dataset.refreshed = String(Date.now());
  } catch (err) {
    status.textContent = `the gateway is not answering (${err.message}); retrying`;
    status.className = "status down";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  refresh();
  setInterval(refresh, POLL_MS);
});
