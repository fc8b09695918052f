/* AlphaPulse dashboard page: one websocket (/ws), plain DOM, no framework, nothing fetched
 * beyond this origin. The message types are those of docs/dashboard.md.
 *
 * Every piece of data reaches the page through textContent or a numeric style property, never
 * through innerHTML. The operator's token stays in sessionStorage (this tab only) and goes out
 * only as `Authorization: Bearer` on POST /api/stop and /api/resume.
 *
 * Stable hooks for tests (tests/dashboard/test_browser.py):
 *   body[data-ready]                   "true" once the first hello arrived
 *   #conn-state[data-state]            connecting | open | closed | dropped
 *   #stop-state[data-latched]          "true" | "false" | "unknown"; #stop-badge the same
 *   #nodes tbody tr[data-node=NAME]    one row per node, [data-state] = heartbeat state name
 *                                      (RUNNING, HALTED, STOPPED, MISSING, ...)
 *   #token, #reason                    the operator's token (password field) and stop reason
 *   #stop-button, #resume-button       POST /api/stop, /api/resume
 *   #control-result[data-status]       HTTP status of the last stop/resume ("error" on failure)
 *   #opportunities tbody tr            newest first, at most MAX_ROWS; [data-id] = opportunity id
 *   #opportunities-count               opportunities received since the last hello
 *   #executions tbody tr               newest first; [data-opportunity], [data-status]
 *   #executions-count                  executions received since the last hello
 *   #prices tbody tr[data-pool]        one per pool
 *   #rings tbody tr[data-ring]         one per ring, [data-lost] = frames lost
 *   #alerts tbody tr                   newest first; [data-severity]
 *   #processes tbody tr[data-program]  one per supervised program, [data-state]
 *   #crosschain tbody tr[data-id]      newest first
 *   #pnl-chart[data-points]            points drawn; #pnl-total the latest cumulative USD
 *   window.__dashboard                 {messages, byType, errors}: counters for tests
 */
"use strict";

(function () {
  /** Rows kept in each stream table (older rows leave the DOM). */
  const MAX_ROWS = 100;
  /** Points kept for the P&L chart. */
  const MAX_POINTS = 5000;
  /** Reconnect back-off: first delay, cap (ms); doubled per failure, with jitter. */
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 10000;
  /** A node whose heartbeat is older than this shows as stale (ms). */
  const STALE_MS = 3000;
  const TOKEN_KEY = "alphapulse.dashboard.token";

  const stats = { messages: 0, byType: {}, errors: 0 };
  window.__dashboard = stats;

  const $ = (id) => document.getElementById(id);

  /** Build an element: el("td", {class: "num", "data-x": "1"}, "text", childNode, ...). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null) continue;
        if (k === "class") node.className = String(v);
        else if (k === "title") node.title = String(v);
        else node.setAttribute(k, String(v));
      }
    }
    for (const c of children) {
      if (c === undefined || c === null) continue;
      node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function setText(id, value) {
    const node = $(id);
    if (node) node.textContent = value === undefined || value === null ? "-" : String(value);
  }

  // ---------------------------------------------------------------- formatting

  function fmtTime(tsNs) {
    const ms = Number(tsNs) / 1e6;
    if (!Number.isFinite(ms) || ms <= 0) return "-";
    const d = new Date(ms);
    const p = (n, w) => String(n).padStart(w || 2, "0");
    return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
  }

  function fmtUsd(v) {
    if (v === undefined || v === null || v === "") return "-";
    const n = Number(v);
    if (!Number.isFinite(n)) return "-";
    const abs = Math.abs(n);
    const digits = abs !== 0 && abs < 0.01 ? 6 : 2;
    return (n < 0 ? "-$" : "$") + abs.toLocaleString("en-US",
      { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }

  /** A decimal string of raw units, grouped in thousands (exact: string arithmetic only). */
  function fmtRaw(s) {
    if (s === undefined || s === null) return "-";
    const text = String(s);
    if (!/^-?\d+$/.test(text)) return text;
    const neg = text.startsWith("-");
    const digits = neg ? text.slice(1) : text;
    const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, "\u2009");
    return (neg ? "-" : "") + grouped;
  }

  function fmtAge(ms) {
    if (ms === undefined || ms === null) return "never";
    const n = Number(ms);
    if (!Number.isFinite(n) || n < 0) return "-";
    return n < 10000 ? `${Math.round(n)} ms` : `${(n / 1000).toFixed(1)} s`;
  }

  function short(s, head, tail) {
    if (s === undefined || s === null) return "-";
    const t = String(s);
    const h = head === undefined ? 8 : head, tl = tail === undefined ? 6 : tail;
    return t.length > h + tl + 1 ? `${t.slice(0, h)}\u2026${tl ? t.slice(-tl) : ""}` : t;
  }

  function signClass(n) {
    const v = Number(n);
    return !Number.isFinite(v) || v === 0 ? "" : v > 0 ? "pos" : "neg";
  }

  // ---------------------------------------------------------------- stream tables

  /** Prepend a row to a stream table, keeping at most MAX_ROWS rows in the DOM. */
  function prependRow(tableId, row) {
    const body = $(tableId).tBodies[0];
    body.insertBefore(row, body.firstChild);
    while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
  }

  /** Replace a table's rows by one built row per item (small tables: nodes, rings, pools). */
  function replaceRows(tableId, items, build) {
    const frag = document.createDocumentFragment();
    for (const item of items) frag.appendChild(build(item));
    $(tableId).tBodies[0].replaceChildren(frag);
  }

  const counts = { opportunities: 0, executions: 0, alerts: 0, crosschain: 0 };

  function bump(name) {
    counts[name] += 1;
    setText(`${name}-count`, counts[name]);
  }

  function clearStreams() {
    for (const name of Object.keys(counts)) {
      counts[name] = 0;
      setText(`${name}-count`, 0);
      $(name).tBodies[0].replaceChildren();
    }
    pnl.points = [];
    scheduleChart();
  }

  // ---------------------------------------------------------------- nodes

  /** name -> {state, ageMs, at (performance.now() when received), seq, pid} */
  const nodes = new Map();

  function onNodes(msg) {
    const now = performance.now();
    nodes.clear();
    for (const n of msg.nodes || []) {
      const age = n.age_ms === undefined || n.age_ms === null ? null : Number(n.age_ms);
      nodes.set(String(n.name), { state: String(n.state || "?"), ageMs: age, at: now,
        seq: n.seq, pid: n.pid });
    }
    renderNodes();
  }

  function renderNodes() {
    const now = performance.now();
    const names = Array.from(nodes.keys()).sort();
    replaceRows("nodes", names, (name) => {
      const n = nodes.get(name);
      const age = n.ageMs === null ? null : n.ageMs + (now - n.at);
      const stale = age === null || age > STALE_MS;
      const cls = ["state-" + n.state.toLowerCase(), stale ? "stale" : ""].join(" ").trim();
      return el("tr", { "data-node": name, "data-state": n.state, class: cls },
        el("td", null, name),
        el("td", null, el("span", { class: "pill state-" + n.state.toLowerCase(), "data-testid": "node-state" }, n.state)),
        el("td", { class: "num" + (stale ? " warn" : "") }, fmtAge(age)),
        el("td", { class: "num" }, n.seq === undefined || n.seq === null ? "-" : n.seq),
        el("td", { class: "num" }, n.pid === undefined || n.pid === null ? "-" : n.pid));
    });
    setText("nodes-count", names.length);
  }

  // ---------------------------------------------------------------- stop latch

  function onStop(msg) {
    const latched = msg.latched === true;
    const box = $("stop-state");
    box.dataset.latched = String(latched);
    setText("stop-title", latched ? "STOPPED: trading halted" : "clear: trading allowed");
    setText("stop-scope", msg.scope);
    setText("stop-reason", msg.reason);
    setText("stop-id", msg.raised_by ? `${msg.stop_id} (by ${msg.raised_by})` : msg.stop_id);
    setText("stop-since", msg.since_ns ? fmtTime(msg.since_ns) : "-");
    const badge = $("stop-badge");
    badge.dataset.latched = String(latched);
    badge.textContent = latched ? "STOP LATCHED" : "stop: clear";
  }

  function tokenValue() {
    return $("token").value.trim();
  }

  async function control(action) {
    const result = $("control-result");
    const token = tokenValue();
    if (!token) {
      result.dataset.status = "error";
      result.textContent = "paste the token from RUN_DIR/dashboard.token first";
      return;
    }
    const reason = $("reason").value.trim();
    const body = reason ? { reason } : {};
    result.dataset.status = "pending";
    result.textContent = `${action}\u2026`;
    for (const b of [$("stop-button"), $("resume-button")]) b.disabled = true;
    try {
      const resp = await fetch(`/api/${action}`, {
        method: "POST",
        headers: { "Authorization": `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
      let answer = null;
      try { answer = await resp.json(); } catch (_) { answer = null; }
      result.dataset.status = String(resp.status);
      const what = {
        200: `${action}: done`,
        400: `${action}: refused, bad request`,
        401: `${action}: refused, wrong or missing token`,
        502: `${action}: the risk node did not answer`,
      }[resp.status] || `${action}: HTTP ${resp.status}`;
      const detail = answer && typeof answer === "object" && answer.error ? ` (${answer.error})` : "";
      result.textContent = what + detail;
    } catch (err) {
      result.dataset.status = "error";
      result.textContent = `${action}: ${err && err.message ? err.message : "request failed"}`;
    } finally {
      for (const b of [$("stop-button"), $("resume-button")]) b.disabled = false;
    }
  }

  function initControl() {
    const input = $("token");
    try {
      input.value = sessionStorage.getItem(TOKEN_KEY) || "";
    } catch (_) { /* storage disabled: the field still works for this page */ }
    input.addEventListener("input", () => {
      try { sessionStorage.setItem(TOKEN_KEY, tokenValue()); } catch (_) { /* see above */ }
    });
    $("control").addEventListener("submit", (ev) => ev.preventDefault());
    $("stop-button").addEventListener("click", () => control("stop"));
    $("resume-button").addEventListener("click", () => control("resume"));
  }

  // ---------------------------------------------------------------- rings, prices, processes

  function onRings(msg) {
    const rings = (msg.rings || []).slice().sort((a, b) => String(a.name).localeCompare(String(b.name)));
    replaceRows("rings", rings, (r) => {
      const fill = Math.max(0, Math.min(100, Number(r.fill_pct) || 0));
      const bar = el("span", { class: "bar-fill" + (fill > 80 ? " hot" : "") });
      bar.style.width = `${fill}%`;
      const lost = Number(r.lost) || 0;
      return el("tr", { "data-ring": r.name, "data-lost": String(r.lost), class: lost > 0 ? "lossy" : "" },
        el("td", { title: String(r.name) }, el("div", null, `${r.domain} / ${r.writer}`),
          el("div", { class: "sub" }, `capacity ${fmtRaw(r.capacity)}`)),
        el("td", { class: "fillcell" }, el("span", { class: "bar" }, bar),
          el("span", { class: "sub" }, `${fill.toFixed(1)}%`)),
        el("td", { class: "num" }, fmtRaw(r.written)),
        el("td", { class: "num" + (lost > 0 ? " neg" : "") }, fmtRaw(r.lost)));
    });
    setText("rings-count", rings.length);
  }

  function onPrices(msg) {
    const pools = (msg.pools || []).slice().sort((a, b) =>
      String(a.pair).localeCompare(String(b.pair)) || String(a.venue).localeCompare(String(b.venue)));
    replaceRows("prices", pools, (p) =>
      el("tr", { "data-pool": p.pool },
        el("td", { class: "mono", title: String(p.pool) }, short(p.pool, 6, 4)),
        el("td", null, p.venue),
        el("td", null, p.pair),
        el("td", { class: "num" }, p.price),
        el("td", { class: "num" }, p.block),
        el("td", { class: "num" }, p.chain_id)));
    setText("prices-count", pools.length);
  }

  function onProcess(msg) {
    const programs = (msg.programs || []).slice().sort((a, b) => String(a.program).localeCompare(String(b.program)));
    replaceRows("processes", programs, (p) => {
      const state = String(p.state || "?");
      return el("tr", { "data-program": p.program, "data-state": state },
        el("td", null, p.program),
        el("td", null, el("span", { class: "pill proc-" + state.toLowerCase() }, state)),
        el("td", { class: "num" }, p.pid === undefined || p.pid === null ? "-" : p.pid));
    });
    setText("processes-count", programs.length);
  }

  // ---------------------------------------------------------------- streams

  function onOpportunity(m) {
    prependRow("opportunities", el("tr", { "data-id": m.id },
      el("td", { class: "mono" }, fmtTime(m.ts_ns)),
      el("td", { class: "mono", title: String(m.id) }, short(m.id, 10, 4)),
      el("td", null, m.strategy_id),
      el("td", { class: "num" }, m.detected_block === undefined ? "-" : m.detected_block),
      el("td", { class: "num" }, m.hops),
      el("td", { class: "num" }, fmtRaw(m.amount_in)),
      el("td", { class: "num" }, fmtRaw(m.profit)),
      el("td", { class: "mono", title: String(m.profit_token) }, short(m.profit_token, 6, 4)),
      el("td", { class: "num " + signClass(m.net_profit_usd) }, fmtUsd(m.net_profit_usd))));
    bump("opportunities");
  }

  function onExecution(m) {
    const status = String(m.status || "?");
    const known = status === "INCLUDED" && m.predicted_usd !== undefined && m.predicted_usd !== null;
    const diff = known ? Number(m.realized_usd) - Number(m.predicted_usd) : NaN;
    const tx = m.tx ? short(m.tx, 10, 6) : "-";
    prependRow("executions", el("tr", { "data-opportunity": m.opportunity_id, "data-status": status },
      el("td", { class: "mono" }, fmtTime(m.ts_ns)),
      el("td", { class: "mono", title: String(m.opportunity_id) }, short(m.opportunity_id, 10, 4)),
      el("td", { title: m.error ? String(m.error) : "" },
        el("span", { class: "pill exec-" + status.toLowerCase() }, status),
        m.error ? el("div", { class: "sub err" }, short(m.error, 80, 0)) : null),
      el("td", { class: "num", title: `raw ${m.predicted_profit}` }, fmtUsd(m.predicted_usd)),
      el("td", { class: "num " + signClass(m.realized_usd), title: `raw ${m.realized_profit}` }, fmtUsd(m.realized_usd)),
      el("td", { class: "num " + signClass(diff) }, Number.isFinite(diff) ? fmtUsd(diff) : "-"),
      el("td", { class: "num" }, fmtRaw(m.gas_used)),
      el("td", { class: "mono", title: m.tx ? String(m.tx) : "" }, tx)));
    bump("executions");
  }

  function onAlert(m) {
    const sev = String(m.severity || "INFO");
    prependRow("alerts", el("tr", { "data-severity": sev, class: "sev-" + sev.toLowerCase() },
      el("td", { class: "mono" }, fmtTime(m.ts_ns)),
      el("td", null, el("span", { class: "pill sev-" + sev.toLowerCase() }, sev)),
      el("td", null, m.kind),
      el("td", { class: "msg" }, m.message,
        m.observed !== undefined && m.observed !== null
          ? el("div", { class: "sub" }, `observed ${fmtRaw(m.observed)} \u00b7 threshold ${fmtRaw(m.threshold)}`)
          : null)));
    bump("alerts");
  }

  function onCrossChain(m) {
    prependRow("crosschain", el("tr", { "data-id": m.id },
      el("td", { class: "mono" }, fmtTime(m.ts_ns)),
      el("td", null, `${m.source_chain_id} \u2192 ${m.dest_chain_id}`,
        m.bridge_latency_s !== undefined && m.bridge_latency_s !== null
          ? el("div", { class: "sub" }, `bridge ${m.bridge_latency_s} s`) : null),
      el("td", { class: "mono", title: String(m.token_in) }, short(m.token_in, 6, 4)),
      el("td", { class: "mono", title: String(m.token_out) }, short(m.token_out, 6, 4)),
      el("td", { class: "num" }, fmtRaw(m.amount_in)),
      el("td", { class: "num" }, fmtRaw(m.expected_out)),
      el("td", { class: "num" }, fmtUsd(m.bridge_cost_usd)),
      el("td", { class: "num " + signClass(m.net_profit_usd) }, fmtUsd(m.net_profit_usd))));
    bump("crosschain");
  }

  // ---------------------------------------------------------------- P&L chart (canvas)

  /** points: [t_ms, usd]; offsetMs: server clock minus this browser's (from hello). */
  const pnl = { points: [], pending: false, offsetMs: 0 };

  function onPnl(msg) {
    for (const p of msg.points || []) {
      if (!Array.isArray(p) || p.length < 2) continue;
      const t = Number(p[0]), v = Number(p[1]);
      if (Number.isFinite(t) && Number.isFinite(v)) pnl.points.push([t, v]);
    }
    if (pnl.points.length > MAX_POINTS) pnl.points.splice(0, pnl.points.length - MAX_POINTS);
    scheduleChart();
  }

  function scheduleChart() {
    if (pnl.pending) return;
    pnl.pending = true;
    requestAnimationFrame(() => { pnl.pending = false; drawChart(); });
  }

  function niceStep(range, ticks) {
    const raw = range / Math.max(1, ticks);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const r = raw / mag;
    return (r >= 5 ? 10 : r >= 2 ? 5 : r >= 1 ? 2 : 1) * mag;
  }

  function drawChart() {
    const canvas = $("pnl-chart");
    const pts = pnl.points;
    canvas.dataset.points = String(pts.length);
    const last = pts.length ? pts[pts.length - 1][1] : null;
    const total = $("pnl-total");
    total.textContent = last === null ? "-" : fmtUsd(last);
    total.className = "figure " + signClass(last);

    const dpr = window.devicePixelRatio || 1;
    const cssW = canvas.clientWidth || 600, cssH = canvas.clientHeight || 220;
    if (canvas.width !== Math.round(cssW * dpr) || canvas.height !== Math.round(cssH * dpr)) {
      canvas.width = Math.round(cssW * dpr);
      canvas.height = Math.round(cssH * dpr);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);
    const css = getComputedStyle(document.body);
    const colText = css.getPropertyValue("--muted").trim() || "#8a94a6";
    const colGrid = css.getPropertyValue("--grid").trim() || "#2a3140";
    const colPos = css.getPropertyValue("--pos").trim() || "#3fb950";
    const colNeg = css.getPropertyValue("--neg").trim() || "#f85149";
    ctx.font = "12px system-ui, sans-serif";
    if (pts.length === 0) {
      ctx.fillStyle = colText;
      ctx.textAlign = "center";
      ctx.fillText("no executions yet", cssW / 2, cssH / 2);
      return;
    }
    const pad = { l: 72, r: 16, t: 12, b: 26 };
    const w = cssW - pad.l - pad.r, h = cssH - pad.t - pad.b;
    // from the first point to now (the series stays flat since the last execution)
    let t0 = pts[0][0];
    let t1 = Math.max(pts[pts.length - 1][0], Date.now() + pnl.offsetMs);
    if (t1 - t0 < 10000) t0 = t1 - 10000;
    let lo = Math.min(0, ...pts.map((p) => p[1])), hi = Math.max(0, ...pts.map((p) => p[1]));
    if (hi - lo < 1e-9) { hi += 1; lo -= 1; }
    const span = hi - lo;
    lo -= span * 0.05; hi += span * 0.05;
    const x = (t) => pad.l + ((t - t0) / (t1 - t0)) * w;
    const y = (v) => pad.t + (1 - (v - lo) / (hi - lo)) * h;

    // grid and labels
    ctx.strokeStyle = colGrid;
    ctx.fillStyle = colText;
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    const step = niceStep(hi - lo, 4);
    for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) {
      ctx.beginPath(); ctx.moveTo(pad.l, Math.round(y(v)) + 0.5); ctx.lineTo(pad.l + w, Math.round(y(v)) + 0.5); ctx.stroke();
      ctx.fillText(fmtUsd(v), pad.l - 6, y(v));
    }
    ctx.textBaseline = "top";
    for (let i = 0; i <= 4; i++) {
      const t = t0 + ((t1 - t0) * i) / 4;
      ctx.textAlign = i === 0 ? "left" : i === 4 ? "right" : "center";
      ctx.fillText(fmtTime(t * 1e6).slice(0, t1 - t0 < 60000 ? 10 : 8), x(t), pad.t + h + 6);
    }
    // zero line
    ctx.strokeStyle = colText;
    ctx.setLineDash([4, 4]);
    ctx.beginPath(); ctx.moveTo(pad.l, y(0)); ctx.lineTo(pad.l + w, y(0)); ctx.stroke();
    ctx.setLineDash([]);
    // the series, as a step line (P&L changes only at executions), and its area to zero
    const colour = last >= 0 ? colPos : colNeg;
    ctx.beginPath();
    ctx.moveTo(x(t0), y(0));
    ctx.lineTo(x(pts[0][0]), y(0));
    ctx.lineTo(x(pts[0][0]), y(pts[0][1]));
    for (let i = 1; i < pts.length; i++) {
      ctx.lineTo(x(pts[i][0]), y(pts[i - 1][1]));
      ctx.lineTo(x(pts[i][0]), y(pts[i][1]));
    }
    const lineEnd = x(t1);
    ctx.lineTo(lineEnd, y(last));
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2;
    ctx.stroke();
    ctx.lineTo(lineEnd, y(0));
    ctx.closePath();
    ctx.globalAlpha = 0.15;
    ctx.fillStyle = colour;
    ctx.fill();
    ctx.globalAlpha = 1;
  }

  // ---------------------------------------------------------------- websocket

  const handlers = {
    hello(m) {
      const serverMs = Number(m.now_ns) / 1e6;
      pnl.offsetMs = Number.isFinite(serverMs) && serverMs > 0 ? serverMs - Date.now() : 0;
      clearStreams();
      setText("mesh-name", `${m.namespace || "?"} \u00b7 ${m.run_dir_name || "?"}`);
      document.body.dataset.ready = "true";
    },
    nodes: onNodes,
    stop: onStop,
    rings: onRings,
    prices: onPrices,
    opportunity: onOpportunity,
    execution: onExecution,
    pnl: onPnl,
    alert: onAlert,
    crosschain: onCrossChain,
    process: onProcess,
    dropped(m) {
      setConn("dropped", `dropped by the server (${m.reason || "slow client"}), reconnecting`);
    },
  };

  let backoff = BACKOFF_MIN_MS;
  let socket = null;

  function setConn(state, text) {
    const node = $("conn-state");
    if (state === "closed" && node.dataset.state === "dropped") return;
    node.dataset.state = state;
    node.textContent = text || state;
  }

  function dispatch(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch (_) {
      stats.errors += 1;
      return;
    }
    if (!msg || typeof msg !== "object") { stats.errors += 1; return; }
    stats.messages += 1;
    const type = String(msg.type);
    stats.byType[type] = (stats.byType[type] || 0) + 1;
    const h = Object.prototype.hasOwnProperty.call(handlers, type) ? handlers[type] : null;
    if (!h) return;
    try {
      h(msg);
    } catch (err) {
      stats.errors += 1;
      console.error("dashboard: bad", type, "message:", err);
    }
  }

  function connect() {
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
    setConn("connecting", "connecting");
    socket = new WebSocket(url);
    socket.addEventListener("open", () => {
      backoff = BACKOFF_MIN_MS;
      setConn("open", "live");
    });
    socket.addEventListener("message", (ev) => dispatch(ev.data));
    socket.addEventListener("close", () => {
      const delay = Math.round(backoff * (0.75 + Math.random() * 0.5));
      backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
      setConn("closed", `disconnected, retry in ${(delay / 1000).toFixed(1)} s`);
      socket = null;
      setTimeout(() => {
        if ($("conn-state").dataset.state === "dropped") $("conn-state").dataset.state = "closed";
        connect();
      }, delay);
    });
    // an error is always followed by close, which schedules the reconnect
  }

  function footer() {
    setText("footer-stats", `${stats.messages} messages \u00b7 ${stats.errors} errors \u00b7 ` +
      `${Object.keys(stats.byType).length} types`);
  }

  document.addEventListener("DOMContentLoaded", () => {
    initControl();
    drawChart();
    connect();
    setInterval(() => { if (nodes.size) renderNodes(); footer(); }, 500);
    setInterval(() => { if (pnl.points.length) scheduleChart(); }, 1000);
    window.addEventListener("resize", scheduleChart);
  });
})();
