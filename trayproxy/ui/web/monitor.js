/* Monitor tab: the request log, live.
 *
 * Nothing polls: the page's event stream says when request-log rows were written (`monitor`
 * events), and only then, while the tab is on screen, the list is fetched with `after=`: rows
 * that started in the last few minutes, merged by id. A row is written when its request ends,
 * stamped with its start time, so a long request can land behind newer ones; the look-back
 * window catches it. Hidden tab or window: nothing is fetched; the tab catches up when shown.
 * Everything from the log goes into the DOM as text (textContent), never as HTML. The hourly
 * charts are drawn by monitor-chart.js (trayproxy.chart.draw).
 */
"use strict";

(function () {
  const tp = window.trayproxy;
  const { h, api, t, tn, fmt } = tp;
  const $ = (id) => document.getElementById(id);
  const STATS_MS = 5 * 60000; // hour buckets move on even when nothing new arrives (checked on the minute tick)
  const PAGE = 100;
  const LOOK_BACK = 300; // s
  const KEEP = 2000; // rows kept in the page

  const filters = { status: "", model: "", account: "", protocol: "" };
  let rows = []; // newest first
  let ids = new Set();
  let hasMore = false;
  let loaded = false; // the head of the list for the current filters is in
  let generation = 0; // bumps when filters change or the log is cleared: late answers are dropped
  let stale = true; // rows were written while the tab was not on screen
  let polling = false;
  let pollAgain = false;
  let stats = null;
  let statsAt = 0;
  let statsDirty = true;
  let selected = null; // id in the detail pane
  let lastRowsKey = "";
  const lastOptions = {};

  // -- formatting (the page's language: i18n.js) -------------------------------------------
  const nf = { format: (n) => fmt.number(n) };
  const fmtCount = (n) => fmt.compact(n);
  const fmtDuration = (ms) => fmt.ms(ms);

  function fmtAgo(ts) {
    const s = Math.max(0, Math.round(Date.now() / 1000 - ts));
    if (s < 60) return t("just now"); // the clock ticks once a minute: no per-second texts
    if (s < 86400) return fmt.ago(s);
    return fmt.shortDate(ts);
  }

  function fmtTime(ts) { return fmt.datetime(ts); }

  function statusKind(r) {
    if (r.status >= 500) return "bad";
    if (r.status >= 400) return "warn";
    return "ok";
  }

  function accountName(id) {
    if (!id) return "";
    if (id === "zai") return "z.ai";
    const st = tp.state;
    const acc = st && st.accounts.find((a) => a.id === id);
    return acc ? acc.email : t("removed account {id}", { id: id.slice(0, 8) });
  }

  function outcomeName(o) {
    return { client_disconnect: t("client left"), shutdown: t("shut down"), rejected: t("refused") }[o] || o.replace(/_/g, " ");
  }

  function protocolName(p) {
    return { openai: "OpenAI", anthropic: "Anthropic", gemini: "Gemini" }[p] || p || t("other");
  }

  function upstreamLabel(u) { return u === "zai" ? "z.ai" : u || ""; }

  // -- visibility and polling --------------------------------------------------------------
  function panel() { return document.querySelector('[data-panel="monitor"]'); }
  function onScreen() { return !panel().hidden && document.visibilityState === "visible"; }

  /* "Live" only when requests can arrive and be recorded: the proxy runs and the log is on. */
  function setLive(on) {
    const live = $("mon-live");
    const st = tp.state;
    const enabled = st ? st.config.monitor.enabled : true;
    const running = st ? st.status.running : false;
    const mode = !on ? "off" : !enabled ? "disabled" : running ? "on" : "stopped";
    live.dataset.state = mode;
    $("mon-live-text").textContent = { on: t("Live"), off: t("Paused"), disabled: t("Log is off"),
      stopped: t("Proxy stopped") }[mode];
  }

  /* Fetch what is new (called when rows were written, or the tab comes on screen). */
  async function tick() {
    if (!onScreen()) { setLive(false); return; }
    if (polling) { pollAgain = true; return; } // the running fetch goes round once more
    polling = true;
    stale = false;
    try {
      do {
        pollAgain = false;
        await poll();
      } while (pollAgain && onScreen());
      setLive(tp.connected !== false);
    } catch (e) {
      $("mon-live").dataset.state = "error";
      $("mon-live-text").textContent = e.message;
    } finally {
      polling = false;
    }
  }

  function query(extra) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
    for (const [k, v] of Object.entries(extra || {})) if (v !== undefined && v !== null) q.set(k, v);
    return q.toString();
  }

  function merge(incoming, older) {
    let added = 0;
    for (const r of incoming) {
      if (ids.has(r.id)) continue;
      ids.add(r.id);
      rows.push(r);
      added++;
    }
    if (added) {
      rows.sort((a, b) => b.ts - a.ts);
      if (!older && rows.length > KEEP) {
        for (const r of rows.splice(KEEP)) ids.delete(r.id);
        hasMore = true;
      }
    }
    return added;
  }

  function reset() {
    generation++;
    rows = [];
    ids = new Set();
    hasMore = false;
    loaded = false;
  }

  async function poll() {
    const gen = generation;
    let added = 0;
    if (!loaded) {
      const data = await api("monitor/requests?" + query({ limit: PAGE }));
      if (gen !== generation) return;
      rows = [];
      ids = new Set();
      merge(data.requests);
      hasMore = data.has_more;
      loaded = true;
      added = 1;
    } else {
      const after = rows.length ? rows[0].ts - LOOK_BACK : Date.now() / 1000 - LOOK_BACK;
      const data = await api("monitor/requests?" + query({ limit: 500, after }));
      if (gen !== generation) return;
      if (data.has_more) {
        // more arrived than one look-back page holds: start again from the newest
        rows = [];
        ids = new Set();
        merge(data.requests);
        hasMore = true;
        added = 1;
      } else {
        added = merge(data.requests);
      }
    }
    if (added) statsDirty = true;
    renderRows();
    if (!onScreen()) return; // the tab was left meanwhile: the stats wait for the next visit
    if (statsDirty || Date.now() - statsAt > STATS_MS) await loadStats();
  }

  async function loadStats() {
    const gen = generation;
    const data = await api("monitor/stats?hours=24");
    if (gen !== generation) return;
    stats = data;
    statsAt = Date.now();
    statsDirty = false;
    renderStats();
  }

  async function loadOlder(button) {
    if (!rows.length) return;
    const gen = generation;
    await tp.act(button, async () => {
      const data = await api("monitor/requests?" + query({ limit: PAGE, before: rows[rows.length - 1].ts }));
      if (gen !== generation) return;
      merge(data.requests, true);
      hasMore = data.has_more;
      renderRows();
    });
  }

  function refilter() {
    reset();
    renderFilters();
    renderRows();
    tick();
  }

  // -- list ----------------------------------------------------------------------------------
  function modelCell(r) {
    const client = r.client_model || "", upstream = r.upstream_model || "";
    const main = client || upstream || "—";
    return h("td", { class: "model" },
      h("span", { class: "name", title: main, text: main }),
      upstream && upstream !== client ? h("span", { class: "sub", title: upstream, text: "→ " + upstream }) : null);
  }

  function servedCell(r) {
    const who = r.upstream === "zai" ? "" : accountName(r.account_id);
    return h("td", { class: "served" },
      r.upstream ? h("span", { class: "badge up-" + (r.upstream === "zai" ? "zai" : "google"), text: upstreamLabel(r.upstream) }) : null,
      who ? h("span", { class: "sub", title: who, text: who }) : null,
      !r.upstream && !who ? h("span", { class: "sub", text: t("not sent upstream") }) : null);
  }

  function rowEl(r) {
    const kind = statusKind(r);
    const tr = h("tr", { "data-id": r.id, "data-status": r.status, class: "st-" + kind, tabindex: 0 },
      h("td", { class: "when", "data-ts": r.ts, title: fmtTime(r.ts), text: fmtAgo(r.ts) }),
      h("td", { class: "st" },
        h("span", { class: "badge " + kind, text: String(r.status) }),
        r.outcome && r.outcome !== "ok" && r.outcome !== "error" ? h("span", { class: "sub", title: r.outcome.replace(/_/g, " "), text: outcomeName(r.outcome) }) : null),
      h("td", { class: "client" },
        h("span", { class: "proto", text: protocolName(r.protocol) }),
        r.stream ? h("span", { class: "tag", title: t("streamed answer"), text: t("stream") }) : null,
        h("span", { class: "sub", title: (r.method || "") + " " + (r.route || ""), text: r.route || "" })),
      modelCell(r),
      servedCell(r),
      h("td", { class: "num dur", title: r.ttfb_ms !== null && r.ttfb_ms !== undefined ? t("first byte after {duration}", { duration: fmtDuration(r.ttfb_ms) }) : "", text: fmtDuration(r.duration_ms) }),
      h("td", { class: "num tokens", title: t("{input} in, {output} out", { input: nf.format(r.input_tokens), output: nf.format(r.output_tokens) }) },
        r.input_tokens || r.output_tokens
          ? [h("span", { text: fmtCount(r.input_tokens) }), h("span", { class: "sep", text: " / " }), h("span", { text: fmtCount(r.output_tokens) })]
          : h("span", { class: "sub", text: "—" })));
    if (r.id === selected) tr.classList.add("selected");
    return tr;
  }

  function hasFilters() { return Object.values(filters).some(Boolean); }

  function renderRows() {
    const body = $("mon-rows");
    const key = JSON.stringify([generation, loaded, rows.length && rows[0].id, rows.length, selected, hasMore,
      tp.state ? tp.state.accounts.map((a) => a.id) : []]);
    if (key !== lastRowsKey) {
      lastRowsKey = key;
      body.replaceChildren(...rows.map(rowEl));
    } else {
      for (const td of body.querySelectorAll("td.when")) td.textContent = fmtAgo(Number(td.dataset.ts));
    }
    const empty = $("mon-empty");
    $("mon-table").hidden = rows.length === 0;
    empty.hidden = rows.length !== 0 || !loaded;
    $("mon-more").hidden = !hasMore || !rows.length;
    $("mon-reset").hidden = !hasFilters();
    if (rows.length || !loaded) return;
    const st = tp.state;
    if (hasFilters()) {
      empty.replaceChildren(t("No requests match these filters.") + " ",
        h("button", { type: "button", class: "btn small ghost", text: t("Show all"), onclick: resetFilters }));
    } else if (st && !st.config.monitor.enabled) {
      empty.textContent = t("The request log is off. Turn on Record requests below to see requests here.");
    } else {
      const url = st ? st.status.base_url : "";
      const text = st && !st.status.running ? t("Start the proxy, point a client at {url} and its requests show up here as they happen.")
        : t("Point a client at {url} and its requests show up here as they happen.");
      empty.replaceChildren(h("b", { text: t("No requests yet.") }), h("br"),
        ...text.split(/(\{url\})/).map((part) => part === "{url}" ? h("code", { text: url }) : part));
    }
  }

  // -- filters ---------------------------------------------------------------------------
  function setOptions(select, name, allLabel, options) {
    const current = filters[name];
    const list = options.slice();
    if (current && !list.some(([v]) => v === current)) list.push([current, current]);
    const key = JSON.stringify(list);
    if (lastOptions[name] !== key) {
      lastOptions[name] = key;
      select.replaceChildren(h("option", { value: "", text: allLabel }), ...list.map(([v, label]) => h("option", { value: v, text: label })));
    }
    select.value = current;
    select.classList.toggle("active", !!current);
  }

  function renderFilters() {
    for (const b of $("mon-status").children) b.setAttribute("aria-checked", b.dataset.status === filters.status ? "true" : "false");
    const st = tp.state;
    const accounts = new Map();
    for (const a of st ? st.accounts : []) accounts.set(a.id, a.email);
    for (const r of stats ? stats.by_account : []) if (r.key && r.key !== "zai" && !accounts.has(r.key)) accounts.set(r.key, accountName(r.key));
    setOptions($("mon-account"), "account", t("All accounts"), [...accounts].sort((a, b) => a[1].localeCompare(b[1])));
    setOptions($("mon-model"), "model", t("All models"), (stats ? stats.models : []).map((m) => [m, m]));
    const protocols = new Set(["openai", "anthropic", "gemini"].concat(stats ? stats.protocols : []));
    setOptions($("mon-protocol"), "protocol", t("All protocols"), [...protocols].sort().map((p) => [p, protocolName(p)]));
  }

  function resetFilters() {
    for (const k of Object.keys(filters)) filters[k] = "";
    refilter();
  }

  // -- stats and chart ---------------------------------------------------------------------
  // Refused requests: the words for each kind the guards count (proxy/guards.py), from the catalog.
  function refusedKind(kind) {
    if (kind === "auth") return t("No or wrong API key");
    if (kind === "origin") return t("A web page");
    if (kind === "host") return t("Host not this computer");
    return kind;
  }

  function refusedTable(list) {
    const body = $("mon-refused").tBodies[0];
    if (!list.length) {
      body.replaceChildren(h("tr", {}, h("td", { colspan: 5, class: "sub", text: t("Nothing refused") })));
      return;
    }
    body.replaceChildren(...list.map((r) => {
      const kind = refusedKind(r.kind);
      const from = r.origin && r.origin !== "-" ? r.origin : t("(no origin sent)");
      return h("tr", { "data-kind": r.kind },
        h("td", { class: "key", title: kind, text: kind }),
        h("td", { title: from, text: from }),
        h("td", { class: "num", text: String(r.status) }),
        h("td", { class: "num", text: nf.format(r.count || 0) }),
        h("td", { class: "num", title: fmtTime(r.last_ts), text: fmtAgo(r.last_ts) }));
    }));
  }

  function totalsTable(table, list, label) {
    const body = table.tBodies[0];
    if (!list.length) {
      body.replaceChildren(h("tr", {}, h("td", { colspan: 5, class: "sub", text: t("Nothing yet") })));
      return;
    }
    body.replaceChildren(...list.map((r) => {
      const name = label(r);
      return h("tr", {},
        h("td", { class: "key", title: name, text: name }),
        h("td", { class: "num", text: nf.format(r.requests || 0) }),
        h("td", { class: "num" + (r.errors ? " errtext" : ""), text: nf.format(r.errors || 0) }),
        h("td", { class: "num", title: nf.format(r.input_tokens || 0), text: fmtCount(r.input_tokens) }),
        h("td", { class: "num", title: nf.format(r.output_tokens || 0), text: fmtCount(r.output_tokens) }));
    }));
  }

  function renderStats() {
    if (!stats) return;
    const hours = stats.hourly;
    const sum = (k) => hours.reduce((s, b) => s + (b[k] || 0), 0);
    const requests = sum("requests"), errors = sum("errors");
    $("mon-t-requests").textContent = nf.format(requests);
    const errEl = $("mon-t-errors");
    errEl.textContent = nf.format(errors) + (requests ? ` (${Math.round((errors / requests) * 100)}%)` : "");
    errEl.classList.toggle("errtext", errors > 0);
    $("mon-t-input").textContent = fmtCount(sum("input_tokens"));
    $("mon-t-input").title = nf.format(sum("input_tokens"));
    $("mon-t-output").textContent = fmtCount(sum("output_tokens"));
    $("mon-t-output").title = nf.format(sum("output_tokens"));
    const okHours = hours.map((b) => ({ ...b, ok: b.requests - b.errors }));
    tp.chart.draw($("chart-requests"), okHours, [{ key: "ok", cls: "s-ok", label: t("OK") }, { key: "errors", cls: "s-err", label: t("Errors") }],
      fmtCount, t("No requests in the last 24 hours"));
    tp.chart.draw($("chart-tokens"), hours, [{ key: "input_tokens", cls: "s-in", label: t("Input") }, { key: "output_tokens", cls: "s-out", label: t("Output") }],
      fmtCount, t("No tokens in the last 24 hours"));
    const all = stats.summary;
    const st = tp.state;
    const days = st ? st.config.monitor.retention_days : null;
    $("mon-log-note").textContent = tn("{n} request in the log.", "{n} requests in the log.", all.requests) +
      (days ? " " + tn("Kept for {n} day.", "Kept for {n} days.", days) : "");
    totalsTable($("mon-by-account"), stats.by_account, (r) => (r.key ? accountName(r.key) : t("not sent upstream")));
    totalsTable($("mon-by-model"), stats.by_model, (r) => r.key || t("not sent upstream"));
    refusedTable(stats.refused || []);
    renderFilters();
  }

  // -- detail pane ------------------------------------------------------------------------
  function pretty(text) {
    if (text === null || text === undefined) return null;
    const t = String(text);
    try { return JSON.stringify(JSON.parse(t), null, 2); } catch (e) { /* not JSON (SSE, text) */ }
    return t;
  }

  function detailFacts(r) {
    const facts = [
      [t("Time"), `${fmtTime(r.ts)} (${fmtAgo(r.ts)})`, true],
      [t("Request"), `${r.method || ""} ${r.route || ""}`],
      [t("Protocol"), r.stream ? t("{protocol}, streamed", { protocol: protocolName(r.protocol) }) : protocolName(r.protocol)],
      [t("Status"), `${r.status} (${outcomeName(r.outcome || "")})`],
      [t("Client model"), r.client_model || "—"],
      [t("Upstream model"), r.upstream_model || "—"],
      [t("Served by"), upstreamLabel(r.upstream) || t("not sent upstream")],
      [t("Account"), !r.account_id ? "—" : r.account_id === "zai" ? "z.ai"
        : [h("span", { text: accountName(r.account_id) }), h("span", { class: "sub", title: r.account_id, text: r.account_id })], true],
      [t("Duration"), fmtDuration(r.duration_ms)],
      [t("First byte"), r.ttfb_ms === null || r.ttfb_ms === undefined ? "—" : fmtDuration(r.ttfb_ms)],
      [t("Input tokens"), nf.format(r.input_tokens || 0)],
      [t("Output tokens"), nf.format(r.output_tokens || 0)],
      [t("Cached tokens"), nf.format(r.cached_tokens || 0)],
      [t("Reasoning tokens"), nf.format(r.reasoning_tokens || 0)],
      [t("User agent"), r.user_agent || "—", true],
      [t("Request id"), r.id],
    ];
    return h("dl", { class: "facts detail-facts" }, facts.map(([k, v, wide]) => h("div", { class: wide ? "wide" : null }, h("dt", { text: k }), typeof v === "string" ? h("dd", { text: v }) : h("dd", { class: "stack" }, v))));
  }

  function bodyBlock(title, text) {
    const shown = pretty(text);
    if (shown === null) return h("div", { class: "body-block" }, h("h3", { text: title }), h("p", { class: "hint", text: t("Not recorded.") }));
    return h("div", { class: "body-block" },
      h("div", { class: "row" }, h("h3", { text: title }), h("div", { class: "spacer" }),
        h("button", { type: "button", class: "btn small ghost", text: t("Copy"), "aria-label": t("Copy: {what}", { what: title }),
          onclick: () => tp.copyText(String(text), title) })),
      h("pre", {}, h("code", { text: shown })));
  }

  async function openDetail(id) {
    selected = id;
    lastRowsKey = "";
    renderRows();
    const drawer = $("mon-detail");
    const body = $("mon-detail-body");
    $("mon-detail-title").textContent = t("Request");
    body.replaceChildren(h("p", { class: "hint", text: t("Loading…") }));
    drawer.hidden = false;
    let r;
    try {
      r = await api("monitor/requests/" + encodeURIComponent(id));
    } catch (e) {
      if (selected === id) body.replaceChildren(h("p", { class: "error", text: e.message }));
      return;
    }
    if (selected !== id) return;
    $("mon-detail-title").replaceChildren(
      h("span", { class: "badge " + statusKind(r), text: String(r.status) }), " ",
      h("span", { text: r.client_model || r.upstream_model || r.route || t("Request") }));
    const parts = [];
    if (r.error) parts.push(h("div", { class: "detail-error" }, h("b", { text: t("Error") }), h("p", { text: r.error })));
    parts.push(detailFacts(r));
    if (r.bodies_stored) {
      parts.push(bodyBlock(t("Request body"), r.request_body), bodyBlock(t("Response body"), r.response_body));
    } else {
      parts.push(h("p", { class: "hint", text: t("Bodies were not stored for this request. Turn on “Also store request and response bodies” in Request log settings to keep them for new requests.") }));
    }
    body.replaceChildren(...parts);
    body.scrollTop = 0;
    if (document.activeElement && document.activeElement.closest("#mon-rows")) $("mon-detail-close").focus({ preventScroll: true });
  }

  function closeDetail() {
    if ($("mon-detail").hidden) return;
    $("mon-detail").hidden = true;
    const id = selected;
    selected = null;
    lastRowsKey = "";
    renderRows();
    const row = id && document.querySelector(`#mon-rows tr[data-id="${CSS.escape(id)}"]`);
    if (row) row.focus();
  }

  // -- settings ---------------------------------------------------------------------------
  function renderSettings(s) {
    const m = s.config.monitor;
    $("mon-enabled").checked = m.enabled;
    $("mon-bodies").checked = m.store_bodies;
    const ret = $("mon-retention");
    if (document.activeElement !== ret && ret.dataset.dirty !== "1") ret.value = m.retention_days;
    $("mon-disabled").hidden = m.enabled;
  }

  function setting(key, value, message) {
    return tp.act(null, () => api("config", { key, value }).then(() => { if (message) tp.toast(message); }));
  }

  // -- wiring -----------------------------------------------------------------------------
  async function exportLog(format, button) {
    const q = query({ format });
    await tp.act(button, async () => {
      if ("pywebview" in window) { // the settings window cannot download files: the app saves it
        const body = { format, ...filters };
        const res = await api("monitor/export/save", body);
        tp.toast(t("Saved {path}", { path: res.path }));
      } else {
        const name = await tp.download("monitor/export?" + q, "trayproxy-requests." + format);
        tp.toast(t("Downloading {name}", { name }));
      }
    });
  }

  function wire() {
    for (const b of $("mon-status").children) {
      b.addEventListener("click", () => { filters.status = b.dataset.status; refilter(); });
    }
    for (const [id, name] of [["mon-model", "model"], ["mon-account", "account"], ["mon-protocol", "protocol"]]) {
      $(id).addEventListener("change", (ev) => { filters[name] = ev.currentTarget.value; refilter(); });
    }
    $("mon-reset").addEventListener("click", resetFilters);
    $("mon-more").addEventListener("click", (ev) => loadOlder(ev.currentTarget));
    $("mon-rows").addEventListener("click", (ev) => {
      const tr = ev.target.closest("tr[data-id]");
      if (tr) openDetail(tr.dataset.id);
    });
    $("mon-rows").addEventListener("keydown", (ev) => {
      const tr = ev.target.closest("tr[data-id]");
      if (!tr) return;
      if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); openDetail(tr.dataset.id); }
      if (ev.key === "ArrowDown" && tr.nextElementSibling) { ev.preventDefault(); tr.nextElementSibling.focus(); }
      if (ev.key === "ArrowUp" && tr.previousElementSibling) { ev.preventDefault(); tr.previousElementSibling.focus(); }
    });
    $("mon-detail-close").addEventListener("click", closeDetail);
    document.addEventListener("keydown", (ev) => { if (ev.key === "Escape") closeDetail(); });

    $("mon-export-csv").addEventListener("click", (ev) => exportLog("csv", ev.currentTarget));
    $("mon-export-json").addEventListener("click", (ev) => exportLog("json", ev.currentTarget));
    $("mon-clear").addEventListener("click", (ev) => {
      const b = ev.currentTarget;
      if (!tp.confirmFirst(b, t("Click again to delete every request"))) return;
      tp.act(b, async () => {
        const res = await api("monitor/clear", {});
        closeDetail();
        reset();
        stats = null;
        statsDirty = true;
        tp.toast(tn("Cleared {n} request", "Cleared {n} requests", res.cleared));
        tick();
      });
    });

    $("mon-enabled").addEventListener("change", (ev) => {
      const on = ev.currentTarget.checked;
      setting("monitor.enabled", on, on ? t("Recording requests") : t("Request log paused"));
    });
    $("mon-bodies").addEventListener("change", (ev) => {
      const on = ev.currentTarget.checked;
      setting("monitor.store_bodies", on, on ? t("Bodies of new requests will be stored") : t("Bodies will not be stored"));
    });
    const ret = $("mon-retention");
    ret.addEventListener("input", () => { ret.dataset.dirty = "1"; });
    const retOk = tp.validate(ret, $("mon-retention-error"), (v) => {
      const n = Number(v);
      if (v === "" || !Number.isInteger(n)) return t("Keep requests for a whole number of days, from 1 to 3650.");
      if (n < 1) return t("Keep requests for at least 1 day (turn off Record requests to keep none).");
      if (n > 3650) return t("Keep requests for at most 3650 days (ten years).");
      return "";
    }, $("mon-retention-save"));
    $("mon-retention-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const err = $("mon-retention-error");
      const n = Number(ret.value);
      if (!retOk()) return;
      tp.act($("mon-retention-save"), async () => {
        await api("config", { key: "monitor.retention_days", value: n });
        delete ret.dataset.dirty;
        tp.toast(t("Retention saved"));
      }, err);
    });

    const leftTab = () => setTimeout(() => { if (panel().hidden) closeDetail(); });
    $("tabs").addEventListener("click", leftTab);
    window.addEventListener("hashchange", leftTab);
    document.addEventListener("visibilitychange", () => {
      if (onScreen() && stale && !polling) tick();
    });
    tp.on("monitor", () => {
      statsDirty = true;
      if (onScreen()) tick(); else stale = true;
    });
    tp.on("tick", () => {
      if (!onScreen()) return;
      renderRows(); // "5 min ago" moves on
      if (Date.now() - statsAt > STATS_MS) loadStats().catch(() => {});
    });
  }

  tp.registerPanel("monitor", {
    show() {
      statsDirty = true;
      tick();
    },
    render(s) {
      renderSettings(s);
      if (panel().hidden) return;
      renderRows();
      if (onScreen() && !polling && (stale || !loaded)) tick(); // opened straight at #monitor, or back from hidden
      else if (onScreen()) setLive(tp.connected !== false);
    },
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
})();
