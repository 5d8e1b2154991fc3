// l4lb dashboard (README.md, "Dashboard"). Polls GET /api/v1/dashboard every second, derives
// rates from two answers, keeps 5 minutes of history in this page and draws it on canvases
// (no chart library: a few lines each, nothing to fetch, nothing to trust). Changes go through
// the admin API's PATCH, as `l4lb ctl` sends them, with the token from this tab's
// sessionStorage in an Authorization header (never in a URL).
"use strict";

const POLL_MS = 1000;
const TIMEOUT_MS = 4000;
const HISTORY_MS = 5 * 60 * 1000;
const TOKEN_KEY = "l4lb-admin-token";
const PALETTE = ["#2563eb", "#16a34a", "#dc2626", "#d97706", "#9333ea", "#0891b2", "#db2777",
                 "#65a30d", "#7c3aed", "#0d9488"];

const state = {
  last: null,          // the previous answer: rates are the difference to it
  history: new Map(),  // "pool" or "pool/backend" -> [{t, cps, active, bin, bout}]
  marks: [],           // {t, pool, backend, state} state changes; backend null: the process
  shown: new Map(),    // "pool/backend" -> state word last shown
  metric: new Map(),   // pool -> metric its chart shows
  data: null,
  busy: false,
};

const $ = (id) => document.getElementById(id);

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

// ---- number formats: fixed decimals so widths stay put ----------------------------------------
function fmtCount(n) { return n == null ? "–" : Math.round(n).toLocaleString("en-US"); }
function fmtRate(n) { return n == null ? "–" : n.toFixed(1); }
function fmtBytes(n) {
  if (n == null) return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; ++i; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
function fmtAge(seconds) {
  if (seconds == null) return "";
  if (seconds < 90) return `${seconds}s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)}m ago`;
  return `${Math.round(seconds / 3600)}h ago`;
}
function fmtUptime(s) {
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600);
  const m = Math.floor(s % 3600 / 60), sec = s % 60;
  const two = (x) => String(x).padStart(2, "0");
  return d > 0 ? `${d}d ${two(h)}:${two(m)}:${two(sec)}` : `${two(h)}:${two(m)}:${two(sec)}`;
}

function setText(el, text) { if (el.textContent !== text) el.textContent = text; }

// ---- polling ------------------------------------------------------------------------------------
async function poll() {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  try {
    const res = await fetch("/api/v1/dashboard", {cache: "no-store", signal: controller.signal});
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const data = await res.json();
    setLink("live", `live · ${new Date(data.time_ms).toLocaleTimeString()}`);
    update(data);
  } catch (err) {
    // A reload answers as before; a binary upgrade or a restart drops the connection for a
    // moment: say so and keep asking. The next answer (a new pid) carries on.
    setLink("lost", "reconnecting…");
  } finally {
    clearTimeout(timer);
    setTimeout(poll, POLL_MS);
  }
}

function setLink(kind, text) {
  const link = $("link");
  link.dataset.state = kind;
  setText($("link-text"), text);
}

function rate(now, before, dt) {
  if (before == null || now == null || dt <= 0 || now < before) return null;
  return (now - before) / dt;
}

function push(key, point) {
  let series = state.history.get(key);
  if (!series) state.history.set(key, series = []);
  series.push(point);
  while (series.length > 0 && series[0].t < point.t - HISTORY_MS) series.shift();
}

function update(data) {
  const last = state.last;
  // Counters carry over a reload (same pid); a new process starts them again.
  const same = last && last.pid === data.pid;
  const dt = same ? (data.time_ms - last.time_ms) / 1000 : 0;
  const t = data.time_ms;
  if (last && last.pid !== data.pid) {
    state.marks.push({t, pool: null, backend: null, state: "restart", label: `pid ${data.pid}`});
  } else if (last && last.config_generation !== data.config_generation) {
    state.marks.push({t, pool: null, backend: null, state: "reload",
                      label: `generation ${data.config_generation}`});
  }
  const before = new Map();
  if (same) {
    for (const l of last.listeners) before.set(`l/${l.name}`, l);
    for (const p of last.pools) for (const b of p.backends) before.set(`${p.name}/${b.name}`, b);
  }
  for (const l of data.listeners) {
    const b = before.get(`l/${l.name}`);
    l.accepted_rate = b ? rate(l.accepted, b.accepted, dt) : null;
  }
  for (const p of data.pools) {
    const sum = {t, cps: 0, active: 0, bin: 0, bout: 0, known: false};
    for (const b of p.backends) {
      const key = `${p.name}/${b.name}`;
      const prev = before.get(key);
      b.cps = prev ? rate(b.total, prev.total, dt) : null;
      b.bin = prev ? rate(b.bytes_in, prev.bytes_in, dt) : null;
      b.bout = prev ? rate(b.bytes_out, prev.bytes_out, dt) : null;
      const point = {t, cps: b.cps, active: b.active, bin: b.bin, bout: b.bout};
      push(key, point);
      sum.active += b.active;
      if (b.cps != null) { sum.known = true; sum.cps += b.cps; sum.bin += b.bin; sum.bout += b.bout; }
      const was = state.shown.get(key);
      if (was !== undefined && was !== b.shown) {
        state.marks.push({t, pool: p.name, backend: b.name, state: b.shown, label: `${b.name} ${b.shown}`});
      }
      state.shown.set(key, b.shown);
    }
    if (!sum.known) { sum.cps = sum.bin = sum.bout = null; }
    push(p.name, sum);
  }
  while (state.marks.length > 0 && state.marks[0].t < t - HISTORY_MS) state.marks.shift();
  state.last = data;
  state.data = data;
  render(data);
}

// ---- rendering ----------------------------------------------------------------------------------
function render(data) {
  setText($("p-version"), data.version);
  setText($("p-pid"), String(data.pid));
  setText($("p-generation"), String(data.config_generation));
  setText($("p-uptime"), fmtUptime(data.uptime_seconds));
  setText($("p-workers"), String(data.workers));
  const r = data.reloads || {};
  const lastReload = r.last
    ? `${r.last.result} ${fmtAge(r.last.seconds_ago)}${r.last.message ? ": " + r.last.message : ""}`
    : "none since start";
  setText($("p-reload"), `${lastReload} (${r.ok} ok, ${r.failed} failed)`);
  $("p-reload").title = lastReload;
  renderListeners(data.listeners);
  renderPacket(data.packet);
  renderPools(data.pools);
  renderToken();
}

function renderListeners(listeners) {
  const body = $("listeners").tBodies[0];
  const rows = new Map([...body.rows].map((row) => [row.dataset.listener, row]));
  listeners.forEach((l, i) => {
    let row = rows.get(l.name);
    if (!row) {
      row = body.insertRow();
      row.dataset.listener = l.name;
      for (let c = 0; c < 9; ++c) row.insertCell();
      [4, 5, 6, 7].forEach((c) => row.cells[c].classList.add("n"));
      row.cells[8].classList.add("hide-narrow", "sub");
    }
    rows.delete(l.name);
    if (body.rows[i] !== row) body.insertBefore(row, body.rows[i] || null);
    const refused = Object.values(l.refused || {}).reduce((a, b) => a + b, 0);
    const reasons = Object.entries(l.refused || {}).filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${fmtCount(n)}`)
      .concat(l.accept_paused ? [`paused at max_connections ${fmtCount(l.accept_paused)}×`] : [])
      .join(", ");
    const cells = [l.name, l.bind, l.kind, l.pool, fmtCount(l.active), fmtRate(l.accepted_rate),
                   fmtCount(l.accepted), l.kind === "datagram" ? "–" : fmtCount(refused),
                   reasons || (l.admin_state !== "enabled" ? l.admin_state : "")];
    cells.forEach((text, c) => setText(row.cells[c], text));
  });
  for (const row of rows.values()) row.remove();
}

// The packet path's VIPs and backends (GET /api/v1/dashboard `packet`, as GET /api/v1/packet):
// shown only when some listener forwards packets. Rows are rebuilt on each poll; packets/s comes
// from the previous answer's counters.
let packetBefore = null;
function fillRows(table, rows) {
  const body = table.tBodies[0];
  while (body.rows.length > rows.length) body.deleteRow(-1);
  rows.forEach((cells, i) => {
    const row = body.rows[i] || body.insertRow();
    while (row.cells.length < cells.length) row.insertCell();
    cells.forEach(([text, numeric], c) => {
      row.cells[c].classList.toggle("n", numeric);
      setText(row.cells[c], text);
    });
  });
}

function renderPacket(packet) {
  const section = $("packet");
  section.hidden = !packet || !packet.vips;
  if (section.hidden) return;
  const now = Date.now();
  const previous = packetBefore;
  packetBefore = { time: now, vips: new Map(packet.vips.map((v) => [v.listener, v.counters])) };
  fillRows($("packet-vips"), packet.vips.map((v) => {
    const c = v.counters;
    const was = previous && previous.vips.get(v.listener);
    const dt = previous ? (now - previous.time) / 1000 : 0;
    const pps = was && dt > 0 ? (c.packets - was.packets) / dt : null;
    return [[v.listener, false], [v.vip, false], [v.forward, false], [v.interface, false],
            [fmtRate(pps), true], [fmtCount(c.packets), true], [fmtBytes(c.bytes), true],
            [fmtCount(c.new_flows), true], [fmtCount(c.conn_misses), true]];
  }));
  fillRows($("packet-backends"), packet.backends.map((b) => {
    const c = b.counters;
    const state = b.down ? "no (down: its flows re-pick)" : b.in_table ? "yes" : "no (drained)";
    return [[b.pool, false], [b.backend, false], [b.address, false], [state, false],
            [fmtCount(c.packets), true], [fmtBytes(c.bytes), true], [fmtCount(c.new_flows), true],
            [fmtCount(c.conn_misses), true]];
  }));
}

function poolArticle(pool) {
  let article = document.querySelector(`article.pool[data-pool="${CSS.escape(pool.name)}"]`);
  if (article) return article;
  article = $("pool-template").content.firstElementChild.cloneNode(true);
  article.dataset.pool = pool.name;
  for (const button of article.querySelectorAll(".tabs button")) {
    button.addEventListener("click", () => {
      state.metric.set(pool.name, button.dataset.metric);
      for (const other of article.querySelectorAll(".tabs button")) {
        other.classList.toggle("on", other === button);
      }
      if (state.data) renderPools(state.data.pools);
    });
  }
  return article;
}

function renderPools(pools) {
  const box = $("pools");
  const keep = new Set();
  pools.forEach((pool, i) => {
    const article = poolArticle(pool);
    keep.add(article);
    if (box.children[i] !== article) box.insertBefore(article, box.children[i] || null);
    setText(article.querySelector(".pool-name"), pool.name);
    const extras = [pool.kind, pool.balance];
    if (pool.maglev) extras.push(`table ${pool.maglev.digest}`);
    if (pool.slow_start_seconds > 0) extras.push(`slow start ${pool.slow_start_seconds}s`);
    if (pool.eject_after > 0) extras.push(`eject after ${pool.eject_after}`);
    setText(article.querySelector(".pool-meta"), extras.join(" · "));
    setText(article.querySelector(".pool-avail"),
            `${pool.backends_available} of ${pool.backends_total} up` +
            (pool.checks_failing ? ` · ${pool.checks_failing} failing checks` : ""));
    renderBackends(article, pool);
    drawPoolChart(article, pool);
  });
  for (const article of [...box.children]) if (!keep.has(article)) article.remove();
}

function checkText(b) {
  const c = b.last_check;
  if (!c) return b.health == null ? "no checks" : "no check yet";
  return `${c.result} ${fmtAge(c.seconds_ago)}: ${c.reason}`;
}

function renderBackends(article, pool) {
  const body = article.querySelector("table.backends").tBodies[0];
  const rows = new Map([...body.rows].map((row) => [row.dataset.backend, row]));
  pool.backends.forEach((b, i) => {
    let row = rows.get(b.name);
    if (!row) {
      row = $("backend-template").content.firstElementChild.cloneNode(true);
      row.dataset.backend = b.name;
      wireActions(row, pool.name, b.name);
    }
    rows.delete(b.name);
    if (body.rows[i] !== row) body.insertBefore(row, body.rows[i] || null);
    setText(row.querySelector(".name"), b.name + (b.backup ? " (backup)" : ""));
    setText(row.querySelector(".addr"), b.address);
    const badge = row.querySelector(".badge");
    badge.dataset.state = b.shown;
    const word = b.shown === "slow-start" && b.ramp_percent != null
      ? `slow-start ${b.ramp_percent}%` : b.shown;
    setText(badge, word);
    badge.title = `operator: ${b.admin_state}; checks: ${b.health ?? "none"}` +
      (b.last_change ? `; ${b.last_change.from} → ${b.last_change.to} ${fmtAge(b.last_change.seconds_ago)}: ${b.last_change.reason}` : "");
    const effective = b.effective_weight == null ? "–" : String(b.effective_weight);
    setText(row.querySelector(".b-weight"),
            effective === String(b.weight) ? String(b.weight) : `${b.weight} (${effective})`);
    row.querySelector(".b-weight").title = "weight (effective weight now, averaged over workers)";
    setText(row.querySelector(".b-active"), fmtCount(b.active));
    setText(row.querySelector(".b-cps"), fmtRate(b.cps));
    setText(row.querySelector(".b-in"), b.bin == null ? "–" : fmtBytes(b.bin));
    setText(row.querySelector(".b-out"), b.bout == null ? "–" : fmtBytes(b.bout));
    const check = row.querySelector(".b-check");
    const text = checkText(b);
    if (check.dataset.text !== text) {
      check.dataset.text = text;
      check.replaceChildren();
      const span = document.createElement("span");
      span.className = b.last_check ? b.last_check.result : "";
      span.textContent = text;
      check.append(span);
      check.title = text;
    }
    setText(row.querySelector(".b-fail"),
            `${fmtCount(b.connect_failures)}${b.resets ? " / " + fmtCount(b.resets) : ""}`);
    row.querySelector(".b-fail").title = "connect failures / resets";
    setText(row.querySelector(".b-eject"), fmtCount(b.ejections));
    const input = row.querySelector(".weight-set input");
    if (document.activeElement !== input && input.dataset.weight !== String(b.weight)) {
      input.value = input.dataset.weight = String(b.weight);
    }
    const metric = state.metric.get(pool.name) || "cps";
    drawChart(row.querySelector("canvas.spark"), [{key: `${pool.name}/${b.name}`, color: colorOf(pool, i)}],
              metric, pool, {spark: true, backend: b.name});
  });
  for (const row of rows.values()) row.remove();
}

// ---- actions ------------------------------------------------------------------------------------
function wireActions(row, pool, backend) {
  for (const button of row.querySelectorAll("button[data-action]")) {
    button.addEventListener("click", () => {
      const action = button.dataset.action;
      let body;
      if (action === "weight") {
        const weight = Number(row.querySelector(".weight-set input").value);
        if (!Number.isInteger(weight) || weight < 1 || weight > 10000) {
          showResult(false, `${pool}/${backend}: the weight must be a whole number from 1 to 10000`);
          return;
        }
        body = {weight};
      } else {
        body = {state: action};
      }
      change(pool, backend, body, action);
    });
  }
}

async function change(pool, backend, body, what) {
  const headers = {"Content-Type": "application/json"};
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const path = `/api/v1/pools/${encodeURIComponent(pool)}/backends/${encodeURIComponent(backend)}`;
  showResult(null, `${pool}/${backend}: ${what}…`);
  try {
    const res = await fetch(path, {method: "PATCH", headers, body: JSON.stringify(body),
                                   cache: "no-store", credentials: "omit"});
    const answer = await res.json().catch(() => ({}));
    if (res.ok) {
      showResult(true, `${pool}/${backend}: ${what} done (HTTP ${res.status}): now ${answer.state}, weight ${answer.weight}`);
    } else if (res.status === 401) {
      showResult(false, `${pool}/${backend}: ${what} refused (HTTP 401): ${answer.error || "the token was not accepted"}`);
    } else {
      showResult(false, `${pool}/${backend}: ${what} failed (HTTP ${res.status}): ${answer.error || res.statusText}`);
    }
  } catch (err) {
    showResult(false, `${pool}/${backend}: ${what} not sent: ${err.message}`);
  }
}

function showResult(ok, text) {
  const el = $("action-result");
  el.dataset.ok = ok == null ? "" : String(ok);
  el.textContent = text;
}

function renderToken() {
  const data = state.data;
  const needed = data ? data.changes_need_token : true;
  const have = token() !== "";
  const why = needed && !have ? "Changes need the admin token: enter it above." : "";
  setText($("token-note"), needed
    ? (have ? "Token set for this tab (sent as Authorization: Bearer; forgotten when the tab closes)." : why)
    : "This listener takes changes without a token.");
  for (const button of document.querySelectorAll(".b-actions button")) {
    button.disabled = why !== "";
    button.title = why;
  }
  $("token-forget").disabled = !have;
}

function setupToken() {
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("token-input").value.trim();
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    $("token-input").value = "";
    renderToken();
  });
  $("token-forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    renderToken();
  });
  renderToken();
}

// ---- charts -------------------------------------------------------------------------------------
function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

function colorOf(pool, index) { return PALETTE[index % PALETTE.length]; }

function valueOf(point, metric, pool) {
  switch (metric) {
    case "cps": return point.cps;
    case "active": return point.active;
    case "bps": return point.bin == null ? null : point.bin + point.bout;
    case "flows": return pool.kind === "datagram" ? point.active : null;
  }
  return null;
}

function fmtAxis(metric, v) {
  if (metric === "bps") return fmtBytes(v) + "/s";
  return v >= 100 ? fmtCount(v) : String(Math.round(v * 10) / 10);
}

function drawPoolChart(article, pool) {
  const metric = state.metric.get(pool.name) || "cps";
  const lines = pool.backends.map((b, i) => ({key: `${pool.name}/${b.name}`, color: colorOf(pool, i), label: b.name}));
  drawChart(article.querySelector("canvas.chart"), lines, metric, pool, {spark: false});
  const legend = article.querySelector(".legend");
  const text = metric === "flows" && pool.kind !== "datagram" ? "a stream pool has no UDP flows" :
    lines.map((l) => l.label).join("|");
  if (legend.dataset.text !== text) {
    legend.dataset.text = text;
    legend.replaceChildren();
    if (metric === "flows" && pool.kind !== "datagram") {
      legend.textContent = text;
    } else {
      for (const l of lines) {
        const span = document.createElement("span");
        const swatch = document.createElement("i");
        swatch.style.background = l.color;
        span.append(swatch, l.label);
        legend.append(span);
      }
    }
  }
}

function drawChart(canvas, lines, metric, pool, options) {
  const dpr = window.devicePixelRatio || 1;
  const width = canvas.clientWidth, height = canvas.clientHeight;
  if (width === 0 || height === 0) return;
  if (canvas.width !== Math.round(width * dpr)) canvas.width = Math.round(width * dpr);
  if (canvas.height !== Math.round(height * dpr)) canvas.height = Math.round(height * dpr);
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, width, height);
  const now = state.data ? state.data.time_ms : Date.now();
  const left = options.spark ? 1 : 64, right = 4, top = 6, bottom = options.spark ? 2 : 18;
  const plotW = width - left - right, plotH = height - top - bottom;
  const x = (t) => left + plotW * (1 - (now - t) / HISTORY_MS);
  let max = 0;
  for (const line of lines) {
    for (const p of state.history.get(line.key) || []) {
      const v = valueOf(p, metric, pool);
      if (v != null && v > max) max = v;
    }
  }
  max = niceMax(max);
  const y = (v) => top + plotH * (1 - v / max);
  g.font = `11px ${css("--font") || "sans-serif"}`;
  g.lineWidth = 1;
  if (!options.spark) {
    g.strokeStyle = css("--line");
    g.fillStyle = css("--muted");
    g.textAlign = "right";
    g.textBaseline = "middle";
    for (let i = 0; i <= 3; ++i) {
      const v = max * i / 3;
      g.beginPath(); g.moveTo(left, y(v) + .5); g.lineTo(width - right, y(v) + .5); g.stroke();
      g.fillText(fmtAxis(metric, v), left - 6, y(v));
    }
    g.textAlign = "center";
    g.textBaseline = "alphabetic";
    for (const minutes of [5, 4, 3, 2, 1, 0]) {
      g.fillText(minutes === 0 ? "now" : `-${minutes}m`, Math.min(Math.max(x(now - minutes * 60000), left + 10), width - right - 12), height - 4);
    }
  }
  // State changes of this pool's backends (or of this backend) and of the process.
  // Where each row of labels is free from: as many rows as fit in the upper half.
  const rows = new Array(Math.max(1, Math.floor(plotH / 24))).fill(-Infinity);
  for (const mark of state.marks) {
    if (mark.pool !== null && mark.pool !== pool.name) continue;
    if (options.spark && mark.backend !== null && mark.backend !== options.backend) continue;
    const mx = Math.round(x(mark.t)) + .5;
    if (mx < left) continue;
    g.strokeStyle = mark.pool === null ? css("--mark") : css(`--${stateVar(mark.state)}`);
    g.setLineDash([3, 3]);
    g.beginPath(); g.moveTo(mx, top); g.lineTo(mx, top + plotH); g.stroke();
    g.setLineDash([]);
    if (!options.spark) {
      // Labels of nearby marks go on the first row with room (right of the mark, or left of it
      // near the right edge), so that they never overlap; with no room left a mark has its line.
      const w = g.measureText(mark.label).width + 6;
      const toLeft = mx + w > width - right;
      const from = toLeft ? mx - w : mx;
      const row = rows.findIndex((free) => free <= from);
      if (row < 0) continue;
      rows[row] = from + w;
      g.fillStyle = g.strokeStyle;
      g.textAlign = "left";
      g.fillText(mark.label, from + 3, top + 10 + 12 * row);
    }
  }
  g.lineWidth = options.spark ? 1.25 : 1.75;
  for (const line of lines) {
    const series = state.history.get(line.key) || [];
    g.strokeStyle = line.color;
    g.beginPath();
    let drawing = false;
    for (const p of series) {
      const v = valueOf(p, metric, pool);
      if (v == null) { drawing = false; continue; }
      const px = x(p.t), py = y(v);
      if (drawing) g.lineTo(px, py); else g.moveTo(px, py);
      drawing = true;
    }
    g.stroke();
  }
}

function stateVar(word) {
  return {up: "up", down: "down", drain: "drain", disabled: "disabled", ejected: "ejected",
          "slow-start": "slow", reload: "mark", restart: "mark"}[word] || "unknown";
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

// Charts follow the window's width; numbers keep their places.
window.addEventListener("resize", () => { if (state.data) renderPools(state.data.pools); });
document.addEventListener("DOMContentLoaded", () => {
  setupToken();
  poll();
});
