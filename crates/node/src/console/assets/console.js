// The Dendrite ring console. Polls the node it was loaded from (/console/cluster.json) and
// draws the ring, the nodes table and the load charts as SVG and DOM text. Everything shown
// is inserted with textContent or as attribute values, never as HTML: keys and host names are
// data, not markup (docs/design.md, "Console").
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const POLL_MS = 1000;
const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
  "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

const state = { view: null, selected: null, keyView: null, lastOk: 0, signature: "" };

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  return node;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

function hostColor(host) {
  const hosts = (state.view ? state.view.hosts : []).map((h) => h.host).sort();
  const index = Math.max(0, hosts.indexOf(host));
  if (index < PALETTE.length) return PALETTE[index];
  return "hsl(" + ((index * 137.5) % 360) + ", 55%, 50%)";
}

function hostState(host) {
  const found = state.view.hosts.find((h) => h.host === host);
  return found ? found.state : "down";
}

function short(id) {
  return id.slice(0, 8) + "…";
}

function fmt(value, digits) {
  if (value === null || value === undefined) return "–";
  return Number(value).toFixed(digits);
}

// ---- ring map ----

const CX = 210, CY = 210, R = 160;

function point(fraction, radius) {
  const angle = fraction * 2 * Math.PI - Math.PI / 2;
  return [CX + radius * Math.cos(angle), CY + radius * Math.sin(angle)];
}

function arcPath(from, to, radius) {
  let span = to - from;
  if (span <= 0) span += 1;
  if (span >= 0.9999) {
    // A whole circle: two half arcs.
    const [x1, y1] = point(from, radius);
    const [x2, y2] = point(from + 0.5, radius);
    return "M" + x1 + " " + y1 + " A" + radius + " " + radius + " 0 1 1 " + x2 + " " + y2 +
      " A" + radius + " " + radius + " 0 1 1 " + x1 + " " + y1;
  }
  const [x1, y1] = point(from, radius);
  const [x2, y2] = point(from + span, radius);
  const large = span > 0.5 ? 1 : 0;
  return "M" + x1.toFixed(2) + " " + y1.toFixed(2) + " A" + radius + " " + radius + " 0 " + large +
    " 1 " + x2.toFixed(2) + " " + y2.toFixed(2);
}

function drawRing() {
  const view = state.view;
  const box = document.getElementById("ring");
  const root = svg("svg", { viewBox: "0 0 420 420", role: "img", "aria-label": "the ring" });
  root.appendChild(svg("circle", { cx: CX, cy: CY, r: R, fill: "none", stroke: "#dde" }));
  const byId = new Map(view.vnodes.map((v) => [v.id, v]));
  for (const v of view.vnodes) {
    const from = byId.has(v.predecessor) ? byId.get(v.predecessor).position : v.position;
    const down = hostState(v.host) === "down";
    const arc = svg("path", {
      d: arcPath(from, v.position, R),
      class: "arc" + (down ? " down" : "") + (state.selected === v.id ? " selected" : ""),
      stroke: hostColor(v.host),
      "data-host": v.host,
      "data-vnode": v.id,
    });
    arc.addEventListener("click", () => select(v.id));
    root.appendChild(arc);
  }
  const chosen = byId.get(state.selected);
  if (chosen) {
    // The copies of the selected range: one outer arc per replica host.
    const from = byId.has(chosen.predecessor) ? byId.get(chosen.predecessor).position : chosen.position;
    chosen.replicas.forEach((host, i) => {
      root.appendChild(svg("path", {
        d: arcPath(from, chosen.position, R + 16 + 8 * i),
        class: "replica-arc",
        stroke: hostColor(host),
        "data-replica-host": host,
      }));
    });
  }
  for (const v of view.vnodes) {
    const [x, y] = point(v.position, R);
    const down = hostState(v.host) === "down";
    const mark = svg("circle", {
      cx: x.toFixed(2), cy: y.toFixed(2), r: markRadius(view.vnodes.length),
      class: "vnode" + (down ? " down" : "") + (state.selected === v.id ? " selected" : ""),
      fill: hostColor(v.host),
      "data-host": v.host,
      "data-vnode": v.id,
      "data-state": hostState(v.host),
    });
    const title = svg("title");
    title.textContent = v.host + " " + short(v.id);
    mark.appendChild(title);
    mark.addEventListener("click", () => select(v.id));
    mark.addEventListener("mouseenter", () => showVnode(v.id));
    mark.addEventListener("mouseleave", () => showVnode(state.selected));
    root.appendChild(mark);
  }
  if (state.keyView) {
    const [x, y] = point(state.keyView.fraction, R - 22);
    const key = svg("circle", { cx: x, cy: y, r: 4, class: "key-mark" });
    const title = svg("title");
    title.textContent = "key " + state.keyView.text;
    key.appendChild(title);
    root.appendChild(key);
  }
  clear(box);
  box.appendChild(root);
}

// Marks shrink as the ring fills, so 100 hosts' vnodes still read as separate dots.
function markRadius(count) {
  if (count > 300) return 2;
  if (count > 60) return 3;
  return 5;
}

function select(id) {
  state.selected = state.selected === id ? null : id;
  drawRing();
  showVnode(state.selected);
}

function recordsOf(vnode) {
  const host = state.view.hosts.find((h) => h.host === vnode.host);
  if (!host || !host.figures) return null;
  const own = host.figures.vnodes.find((v) => v.id === vnode.id);
  return own ? own.records : null;
}

function showVnode(id) {
  const box = document.getElementById("vnode-detail");
  const v = state.view && state.view.vnodes.find((x) => x.id === id);
  if (!v) {
    box.textContent = "Click a vnode for its details.";
    return;
  }
  const records = recordsOf(v);
  box.textContent = [
    "vnode        " + v.id,
    "host         " + v.host + " (" + hostState(v.host) + ")",
    "predecessor  " + v.predecessor,
    "successors   " + v.successors.map(short).join(", "),
    "replicas     " + (v.replicas.length ? v.replicas.join(", ") : "none"),
    "ownership    " + fmt(v.ownership * 100, 2) + " %",
    "keys held    " + (records === null ? "unknown" : records + " (as primary)"),
  ].join("\n");
}

// ---- legend and nodes table ----

function drawHosts() {
  const legend = document.getElementById("legend");
  clear(legend);
  const body = document.getElementById("hosts");
  clear(body);
  const now = Date.now();
  for (const h of state.view.hosts) {
    const item = el("li", { "data-host": h.host, "data-state": h.state });
    const swatch = el("span", { class: "swatch" });
    swatch.style.background = h.state === "down" ? "#bbb" : hostColor(h.host);
    item.appendChild(swatch);
    item.appendChild(document.createTextNode(h.host + " — " + h.state));
    legend.appendChild(item);

    const f = h.figures;
    const row = el("tr", { "data-host": h.host, "data-state": h.state });
    const cell = (text, cls) => row.appendChild(el("td", cls ? { class: cls } : {}, text));
    cell(h.host, "mono");
    const stateCell = el("td", { class: "state" }, h.state);
    if (h.reason) stateCell.title = h.reason;
    row.appendChild(stateCell);
    cell(h.vnodes, "num");
    cell(fmt(h.ownership * 100, 1) + " %", "num");
    cell(f ? f.primary_keys + " / " + Math.max(0, f.keys - f.primary_keys) : "–", "num");
    cell(f ? fmt(f.ops_per_sec, 0) : "–", "num");
    cell(f ? fmt(f.p50_ms, 2) : "–", "num");
    cell(f ? fmt(f.p99_ms, 2) : "–", "num");
    cell(f ? f.replication_backlog : "–", "num");
    cell(f && f.last_anti_entropy_ms ? Math.round((now - f.last_anti_entropy_ms) / 1000) + " s ago" : "–", "num");
    cell(f ? f.version : (h.reason || "–"));
    body.appendChild(row);
  }
}

// ---- charts ----

function drawChart(id, pick) {
  const box = document.getElementById(id);
  const width = 400, height = 140, pad = 24;
  const root = svg("svg", { viewBox: "0 0 " + width + " " + height, class: "chart", preserveAspectRatio: "none" });
  const series = state.view.hosts
    .filter((h) => h.figures && h.figures.history.length)
    .map((h) => ({ host: h.host, points: h.figures.history.map((s) => [s.t, pick(s)]).filter((p) => p[1] !== null) }));
  let tMin = Infinity, tMax = -Infinity, yMax = 0;
  for (const s of series) for (const [t, y] of s.points) {
    tMin = Math.min(tMin, t); tMax = Math.max(tMax, t); yMax = Math.max(yMax, y);
  }
  if (yMax === 0) yMax = 1;
  if (!(tMax > tMin)) { tMin = Date.now() - 60000; tMax = Date.now(); }
  const x = (t) => pad + (width - 2 * pad) * (t - tMin) / (tMax - tMin);
  const y = (v) => height - pad / 2 - (height - pad) * v / yMax;
  const top = svg("text", { x: 2, y: 10 });
  top.textContent = fmt(yMax, yMax < 10 ? 2 : 0);
  root.appendChild(top);
  const span = svg("text", { x: width - 60, y: height - 2 });
  span.textContent = Math.round((tMax - tMin) / 1000) + " s";
  root.appendChild(span);
  for (const s of series) {
    const line = svg("polyline", {
      points: s.points.map(([t, v]) => x(t).toFixed(1) + "," + y(v).toFixed(1)).join(" "),
      stroke: hostColor(s.host),
      "data-host": s.host,
    });
    root.appendChild(line);
  }
  clear(box);
  box.appendChild(root);
}

// ---- key inspector ----

async function inspect(event) {
  event.preventDefault();
  const input = document.getElementById("key-input").value;
  const asHex = document.getElementById("key-is-hex").checked;
  const box = document.getElementById("key-result");
  clear(box);
  box.appendChild(el("div", {}, "inspecting…"));
  try {
    const param = asHex ? "hex=" : "key=";
    const response = await fetch("/console/key.json?" + param + encodeURIComponent(input), { cache: "no-store" });
    const answer = await response.json();
    clear(box);
    if (!response.ok) {
      state.keyView = null;
      box.appendChild(el("div", { class: "error" }, answer.error || ("HTTP " + response.status)));
      return;
    }
    state.keyView = answer;
    drawKey(answer);
    if (state.view) drawRing();
  } catch (error) {
    clear(box);
    box.appendChild(el("div", { class: "error" }, "the node did not answer: " + error));
  }
}

function drawKey(k) {
  const box = document.getElementById("key-result");
  clear(box);
  const lines = [
    ["key", k.text, "key-text"],
    ["hex", k.hex, "key-hex"],
    ["position", k.position + " (" + fmt(k.fraction * 100, 3) + " % round the ring)", "key-position"],
    ["slot", k.slot, "key-slot"],
  ];
  const facts = el("table", { id: "key-facts" });
  for (const [name, value, id] of lines) {
    const row = el("tr");
    row.appendChild(el("th", {}, name));
    row.appendChild(el("td", { id: id, class: "mono" }, value));
    facts.appendChild(row);
  }
  box.appendChild(facts);
  const copies = el("table", { id: "key-copies" });
  const head = el("tr");
  for (const name of ["role", "host", "vnode", "holds", "version", "bytes"]) head.appendChild(el("th", {}, name));
  copies.appendChild(head);
  for (const c of k.copies) {
    const row = el("tr", { class: "copy", "data-state": c.state, "data-host": c.host, "data-role": c.role });
    row.appendChild(el("td", {}, c.role));
    row.appendChild(el("td", { class: "mono" }, c.host));
    row.appendChild(el("td", { class: "mono" }, short(c.vnode)));
    row.appendChild(el("td", {}, c.state + (c.error ? ": " + c.error : "")));
    row.appendChild(el("td", { class: "mono" }, c.version || "–"));
    row.appendChild(el("td", { class: "num" }, c.value_len === null ? "–" : c.value_len));
    copies.appendChild(row);
  }
  box.appendChild(copies);
}

// ---- polling ----

async function poll() {
  try {
    const response = await fetch("/console/cluster.json", { cache: "no-store" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    state.view = await response.json();
    state.lastOk = Date.now();
    document.getElementById("viewer").textContent =
      "seen from " + state.view.viewer + " · " + state.view.vnodes.length + " vnodes · " +
      state.view.hosts.length + " hosts · " + (state.view.replicas + 1) + " copies per key";
    // Redraw the ring only when it changed (it is the heaviest part with many vnodes).
    const signature = state.view.vnodes.map((v) => v.id + v.host).join() + "|" +
      state.view.hosts.map((h) => h.host + h.state).join();
    if (signature !== state.signature) {
      state.signature = signature;
      drawRing();
      showVnode(state.selected);
    }
    drawHosts();
    drawChart("chart-ops", (s) => s.ops);
    drawChart("chart-p99", (s) => s.p99);
    document.body.setAttribute("data-polls", String(Number(document.body.getAttribute("data-polls") || 0) + 1));
  } catch (error) {
    const fresh = document.getElementById("freshness");
    fresh.textContent = "cannot reach the node: " + error.message;
    fresh.className = "stale";
  }
  if (state.lastOk && Date.now() - state.lastOk < 3 * POLL_MS) {
    const fresh = document.getElementById("freshness");
    fresh.textContent = "live";
    fresh.className = "";
  }
  setTimeout(poll, POLL_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("key-form").addEventListener("submit", inspect);
  poll();
});
