/* trayproxy settings page: talks to the ControlServer's JSON API (token in a header) and follows
 * its event stream (GET /api/events): `state` arrives whenever something the page shows changed,
 * `monitor` when request-log rows were written. Nothing polls. While the page is hidden the
 * stream is closed (no CPU at all); on return it reconnects and gets the current state first.
 *
 * Extending (see also the comment at the top of index.html): add a tab button (data-tab="NAME")
 * and a section (data-panel="NAME") to index.html, or call trayproxy.addTab(NAME, LABEL,
 * sectionElement) from another script; then trayproxy.registerPanel(NAME, {show(state),
 * render(state)}) to get the live state, trayproxy.onState(fn) for every state, and
 * trayproxy.on("monitor" | "tick", fn) for request-log batches and the once-a-minute clock tick
 * (for "in 5 min" texts; it runs only while the page is visible).
 * Words: trayproxy.t(msgid, fields) and trayproxy.tn(one, many, n, fields) from the app's
 * catalogs (i18n.js), trayproxy.fmt for numbers, times and durations in the page's language; the
 * page starts once its catalog is in (tpI18n.ready) and reloads when the language setting changes.
 * trayproxy.api(PATH, BODY) calls /api/PATH (POST when BODY is given); trayproxy.download(PATH)
 * saves what /api/PATH answers as a file; trayproxy.validate(input, errEl, check, button) gives
 * a field inline validation in the page's words; trayproxy.act(button, fn, errEl) runs an action.
 * overview.js (first-run guide, client setups), monitor.js (Monitor tab) and settings.js (proxy,
 * API key, start at login, z.ai) are built this way.
 */
"use strict";

(function () {
  const TOKEN = document.querySelector('meta[name="trayproxy-token"]').content;
  const I18N = window.tpI18n;
  const { t, tn, say, fmt } = I18N;
  const $ = (id) => document.getElementById(id);
  const panels = {};
  const listeners = [];
  const handlers = { monitor: [], tick: [] };
  let state = null;
  let pendingStart = false;
  let toastTimer = null;
  let source = null;
  let tickTimer = null;
  const lastRendered = {};

  /* True when `value` differs from what `name` last rendered: lists are rebuilt only then, so
     a pushed state never swaps a button out from under the pointer (or an armed "Remove"). */
  function changed(name, value) {
    const key = JSON.stringify(value);
    if (lastRendered[name] === key) return false;
    lastRendered[name] = key;
    return true;
  }

  // -- helpers ---------------------------------------------------------------------------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "style") Object.assign(el.style, v); // CSSOM: allowed by the page's CSP
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function emit(kind, data) {
    for (const fn of handlers[kind] || []) {
      try { fn(data, state); } catch (e) { console.error(e); }
    }
  }

  /* The API key as the page shows it until "Show": the prefix and dots. */
  function mask(key) { return key ? key.slice(0, 3) + "\u2022".repeat(12) : ""; }

  /* An error shown under a field is tied to it: the field's aria-describedby names it (first,
     before the hint) while it shows, and it is announced (aria-live). */
  function tieError(input, errEl, msg) {
    if (!errEl.id) errEl.id = (input.id || "field") + "-error";
    errEl.setAttribute("aria-live", "polite");
    const ids = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter((x) => x && x !== errEl.id);
    if (msg) ids.unshift(errEl.id);
    if (ids.length) input.setAttribute("aria-describedby", ids.join(" ")); else input.removeAttribute("aria-describedby");
    if (msg) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
  }

  /* Inline validation: check(value) returns a message in the page's words, or "" when fine.
     The message shows under the field as the user types (after the first change), the field is
     marked invalid and described by the message (tieError), and `button` (Save) is disabled
     while it is wrong. Returns a function that checks now and tells whether the value is fine
     (call it on submit). */
  function validate(input, errEl, check, button) {
    let touched = false;
    const run = (show) => {
      const msg = check(input.value.trim()) || "";
      if (show) {
        errEl.textContent = msg;
        errEl.hidden = !msg;
        tieError(input, errEl, msg);
      }
      if (button) button.disabled = !!msg && touched;
      return !msg;
    };
    input.addEventListener("input", () => { touched = true; run(true); });
    input.addEventListener("blur", () => { if (touched) run(true); });
    return () => { touched = true; return run(true); };
  }

  /* Keep what the user is looking at where it is while `fn` changes the page above it (a
     banner or a warning coming or going must not move the button under the pointer). */
  function keepAnchor(fn) {
    const chrome = $("chrome");
    const top = chrome ? chrome.getBoundingClientRect().bottom : 0;
    let anchor = null, before = 0;
    if (window.scrollY > 0) {
      const focused = document.activeElement;
      if (focused && focused !== document.body && focused.getBoundingClientRect().top > top) anchor = focused;
      if (!anchor) {
        for (const el of document.querySelectorAll("main .panel:not([hidden]) > .card")) {
          const r = el.getBoundingClientRect();
          if (r.bottom > top) { anchor = el; break; }
        }
      }
      if (anchor) before = anchor.getBoundingClientRect().top;
    }
    fn();
    if (anchor && anchor.isConnected) {
      const delta = anchor.getBoundingClientRect().top - before;
      if (Math.abs(delta) >= 1) window.scrollBy(0, delta);
    }
  }

  async function api(path, body) {
    const opts = { method: body === undefined ? "GET" : "POST", headers: { "X-Trayproxy-Token": TOKEN } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch("/api/" + path, opts);
    } catch (e) {
      throw new Error(t("trayproxy is not answering (was it closed?)"));
    }
    let data = {};
    try { data = await resp.json(); } catch (e) { /* not JSON */ }
    if (data && data.status && data.config) setState(data); // errors may carry the state too
    if (!resp.ok) throw new Error(data.error || resp.statusText || t("Request failed"));
    return data;
  }

  /* GET /api/PATH and hand the answer to the browser as a download (the token must travel in a
     header, so a plain link cannot do it). Returns the file name. */
  async function download(path, fallbackName) {
    let resp;
    try {
      resp = await fetch("/api/" + path, { headers: { "X-Trayproxy-Token": TOKEN } });
    } catch (e) {
      throw new Error(t("trayproxy is not answering (was it closed?)"));
    }
    if (!resp.ok) {
      let data = {};
      try { data = await resp.json(); } catch (e) { /* not JSON */ }
      throw new Error(data.error || resp.statusText || t("Download failed"));
    }
    const blob = await resp.blob();
    const m = /filename="([^"]+)"/.exec(resp.headers.get("Content-Disposition") || "");
    const name = m ? m[1] : fallbackName;
    const url = URL.createObjectURL(blob);
    const a = h("a", { href: url, download: name, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 30000);
    return name;
  }

  function toast(message, isError) {
    const el = $("toast");
    el.textContent = message;
    el.classList.toggle("error", !!isError);
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { el.hidden = true; }, isError ? 8000 : 2500);
  }

  async function copyText(text, what) {
    const label = what ? t("{what} copied", { what }) : t("Copied");
    try {
      await navigator.clipboard.writeText(text);
      toast(label);
      return true;
    } catch (e) { /* no async clipboard here (permissions, old WebKit): ask the app */ }
    try {
      await api("copy", { text });
      toast(label);
      return true;
    } catch (e) {
      toast(t("Could not copy: {error}", { error: e.message }), true);
      return false;
    }
  }

  /* Run an action with its button disabled; errors go to errEl (or a toast). */
  async function act(button, fn, errEl) {
    if (errEl) errEl.hidden = true;
    if (button) button.disabled = true;
    try {
      return await fn();
    } catch (e) {
      if (errEl) { errEl.textContent = e.message; errEl.hidden = false; } else toast(e.message, true);
      return undefined;
    } finally {
      if (button) button.disabled = false;
      render();
    }
  }

  /* Two-step confirmation on the button itself instead of a native dialog. */
  function confirmFirst(button, label) {
    const disarm = () => {
      if (button.dataset.armed !== "1") return;
      delete button.dataset.armed;
      button.textContent = button.dataset.label;
      button.classList.remove("confirm");
    };
    if (button.dataset.armed === "1") {
      disarm();
      return true;
    }
    button.dataset.label = button.textContent;
    button.dataset.armed = "1";
    button.textContent = label;
    button.classList.add("confirm");
    setTimeout(disarm, 4000);
    return false;
  }

  // -- tabs ------------------------------------------------------------------------------
  function tabs() { return Array.from(document.querySelectorAll("#tabs [role=tab]")); }

  function selectTab(name) {
    if (!tabs().some((b) => b.dataset.tab === name)) name = "overview";
    const changedTab = !tabs().some((b) => b.dataset.tab === name && b.getAttribute("aria-selected") === "true");
    for (const b of tabs()) {
      const on = b.dataset.tab === name;
      b.setAttribute("aria-selected", on ? "true" : "false");
      b.tabIndex = on ? 0 : -1;
    }
    for (const p of document.querySelectorAll("[data-panel]")) p.hidden = p.dataset.panel !== name;
    if (changedTab) window.scrollTo(0, 0); // each tab opens at its top
    if (location.hash !== "#" + name) history.replaceState(null, "", "#" + name);
    const hooks = panels[name];
    if (hooks && hooks.show && state) hooks.show(state);
  }

  function addTab(name, label, section) {
    const button = h("button", { type: "button", role: "tab", "data-tab": name, text: label, id: "tab-" + name,
      "aria-controls": "panel-" + name });
    button.addEventListener("click", () => selectTab(name));
    $("tabs").append(button);
    section.dataset.panel = name;
    section.id = "panel-" + name;
    section.setAttribute("aria-labelledby", "tab-" + name);
    section.classList.add("panel");
    section.setAttribute("role", "tabpanel");
    section.hidden = true;
    $("panels").append(section);
    return button;
  }

  // -- rendering -------------------------------------------------------------------------
  function setState(s) {
    if (s.language && s.language.lang && s.language.lang !== I18N.lang) {
      location.reload(); // the language changed (here, in the tray's process or in config.json)
      return;
    }
    state = s;
    keepAnchor(render);
    for (const fn of listeners) {
      try { fn(state); } catch (e) { console.error(e); }
    }
    for (const hooks of Object.values(panels)) {
      try { if (hooks.render) hooks.render(state); } catch (e) { console.error(e); }
    }
  }

  /* Why Start failed, in the page's words, with what to do about it. */
  function problemText(p) {
    if (p.kind === "port") {
      const what = p.reason === "in_use" ? (p.holder ? t("Port {port} is already in use by {holder}.", { port: p.port, holder: p.holder })
        : t("Port {port} is already in use by another program.", { port: p.port }))
        : p.reason === "denied" ? t("trayproxy may not listen on port {port} (ports below 1024 need administrator rights).", { port: p.port })
          : t("Port {port} could not be opened ({why}).", { port: p.port, why: p.message.replace(/^.*could not be bound: /, "") });
      return what + " " + (p.suggested_port ? t("Port {port} is free.", { port: p.suggested_port }) : t("Pick another port in Settings."));
    }
    if (p.kind === "no_account") return t("Add a Google account first (or turn on z.ai in Settings).");
    return p.message;
  }

  function renderBanners(st, cfg) {
    const items = [];
    const p = st.problem;
    // no account yet is the normal first run: said calmly, with the one thing to do
    if (p && !st.running && p.kind === "no_account") items.push(["info", t("Not started yet:"), problemText(p), p.kind, null]);
    else if (p && !st.running) items.push(["error", t("Could not start:"), problemText(p), p.kind, p.suggested_port || null]);
    if (cfg.allow_lan_access && cfg.effective_auth_mode === "off") {
      items.push(["warning", t("LAN access without a key:"), t("anyone on your network can use your accounts. Turn on the API key in Settings."), "lan", null]);
    }
    if (st.config_problem) items.push(["warning", t("Settings file:"), st.config_problem, "config", null]);
    if (st.restart_note) items.push(["warning", t("Waiting for a restart:"), st.restart_note, "restart", null]);
    if (st.secrets_fallback) {
      const path = state.secrets.path || t("in the data folder");
      items.push(["warning", t("No system keychain:"), t("{why}. Secrets are kept in a private file instead ({path}, readable only by you).",
        { why: st.secrets_fallback, path }), "keychain", null]);
    }
    if (!changed("banners", items)) return;
    $("banners").replaceChildren(...items.map(([kind, title, text, cause, port]) => {
      const actions = [];
      if (cause === "port") {
        if (port) actions.push(h("button", { type: "button", class: "btn small primary", "data-use-port": port, text: t("Use port {port} and start", { port }) }));
        actions.push(h("button", { type: "button", class: "btn small ghost", text: t("Change the port"), onclick: () => { selectTab("settings"); $("port").focus(); } }));
      } else if (cause === "no_account") {
        actions.push(h("button", { type: "button", class: "btn small primary", "data-login": "", text: t("Sign in with Google") }));
      } else if (cause === "lan") {
        actions.push(h("button", { type: "button", class: "btn small ghost", text: t("Open Settings"), onclick: () => { selectTab("settings"); $("auth-mode").focus(); } }));
      }
      return h("div", { class: "banner " + kind, "data-cause": cause },
        h("span", { class: "text" }, h("b", { text: title }), " ", text),
        actions.length ? h("div", { class: "actions" }, actions) : null);
    }));
  }

  function renderStatus(st, cfg) {
    const failed = st.error && !(st.problem && st.problem.kind === "no_account");
    const mode = pendingStart ? "starting" : st.running ? "running" : failed ? "error" : "stopped";
    $("status-pill").dataset.state = mode;
    const logo = "/icon/" + mode + ".png";
    if ($("logo").getAttribute("src") !== logo) $("logo").setAttribute("src", logo);
    $("status-text").textContent = { starting: t("Starting…"), running: t("Running on port {port}", { port: st.port }),
      error: t("Stopped (error)"), stopped: t("Stopped") }[mode];
    const toggle = $("toggle");
    toggle.textContent = st.running ? t("Stop") : t("Start");
    // one primary action: Start is the top bar's only while no step of the guide leads
    const guiding = !$("guide").hidden;
    toggle.classList.toggle("primary", !st.running && !guiding);
    toggle.classList.toggle("stop", st.running);
    $("fact-state").textContent = st.running ? t("Running") : pendingStart ? t("Starting…") : t("Stopped");
    $("fact-url").textContent = st.base_url;
    $("top-url").textContent = st.running ? st.base_url : "";
    $("top-url").title = t("Base URL");
    const facts = $("fact-accounts");
    if (st.accounts_total) {
      delete lastRendered["fact-accounts-empty"];
      facts.textContent = state.summary ? state.summary.line : "";
    } else if (changed("fact-accounts-empty", I18N.lang)) {
      facts.replaceChildren(h("span", { text: t("None yet.") }), h("a", { href: "#accounts", text: t("Add an account") }));
    }
    $("fact-listen").textContent = cfg.allow_lan_access ? t("Your network (0.0.0.0)") : t("This computer only");
    $("fact-auth").textContent = { off: t("No"), strict: t("Yes, every route"), all_except_health: t("Yes, except /health") }[st.auth_mode] || st.auth_mode;
  }

  function renderLogin(login) {
    const el = $("login-status");
    el.classList.remove("error");
    if (login.state === "waiting") {
      el.replaceChildren(t("Waiting for you to finish signing in… Browser did not open?") + " ",
        h("a", { href: login.url, target: "_blank", rel: "noreferrer", text: t("Open the sign-in page") }));
    } else if (login.state === "starting") {
      el.textContent = t("Starting the sign-in…");
    } else if (login.state === "done") {
      el.textContent = t("Signed in as {email}.", { email: login.email });
    } else if (login.state === "error") {
      el.textContent = login.message;
      el.classList.add("error");
    } else {
      el.textContent = t("Opens your browser; come back here when you are done.");
    }
  }

  function render() {
    if (!state) return;
    const st = state.status, cfg = state.config;
    renderBanners(st, cfg);
    renderStatus(st, cfg);
    renderLogin(state.login);
  }

  async function refresh() {
    try {
      await api("state");
    } catch (e) {
      disconnected();
    }
  }

  function disconnected() {
    $("status-text").textContent = t("Not connected");
    $("status-pill").dataset.state = "error";
    document.body.dataset.stream = "down";
  }

  /* Follow the event stream while the page is visible; EventSource reconnects by itself
     (after the `retry:` the server sets) and the first event after a reconnect is the state. */
  function connect() {
    if (source || document.visibilityState !== "visible") return;
    source = new EventSource("/api/events?token=" + encodeURIComponent(TOKEN));
    source.addEventListener("open", () => { document.body.dataset.stream = "up"; });
    source.addEventListener("state", (ev) => {
      document.body.dataset.stream = "up";
      setState(JSON.parse(ev.data));
    });
    source.addEventListener("monitor", (ev) => {
      document.body.dataset.monitorEvents = String(Number(document.body.dataset.monitorEvents || 0) + 1);
      emit("monitor", JSON.parse(ev.data));
    });
    source.addEventListener("error", () => { if (source && source.readyState !== EventSource.OPEN) disconnected(); });
    clearInterval(tickTimer);
    tickTimer = setInterval(() => { emit("tick"); if (state) render(); }, 60000);
  }

  function disconnect() {
    if (source) { source.close(); source = null; }
    clearInterval(tickTimer);
    tickTimer = null;
    document.body.dataset.stream = "paused";
  }

  async function startProxy(button) {
    pendingStart = true;
    render();
    try {
      await api("start", {});
    } catch (e) {
      // a problem with a cause is on the banner (and goes with it); anything else is a toast
      if (!(state && state.status.problem)) toast(e.message, true);
    } finally {
      pendingStart = false;
      if (button) button.disabled = false;
      render();
    }
  }

  // -- wiring ----------------------------------------------------------------------------
  function wire() {
    // a field's error is announced when it appears (validate also ties it to its field)
    for (const el of document.querySelectorAll("p.error")) el.setAttribute("role", "alert");
    for (const b of tabs()) b.addEventListener("click", () => selectTab(b.dataset.tab));
    $("tabs").addEventListener("keydown", (ev) => {
      if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft") return;
      const all = tabs(), i = all.indexOf(document.activeElement);
      if (i < 0) return;
      const next = all[(i + (ev.key === "ArrowRight" ? 1 : all.length - 1)) % all.length];
      next.focus();
      selectTab(next.dataset.tab);
    });
    window.addEventListener("hashchange", () => selectTab(location.hash.slice(1)));

    document.addEventListener("click", (ev) => {
      const toggle = ev.target.closest("[data-action=toggle]");
      if (toggle && state) {
        toggle.disabled = true;
        if (state.status.running) act(toggle, () => api("stop", {}));
        else startProxy(toggle);
        return;
      }
      const use = ev.target.closest("[data-use-port]");
      if (use) {
        const n = Number(use.dataset.usePort);
        use.disabled = true;
        api("config", { key: "port", value: n }).then(() => {
          $("port").value = n;
          delete $("port").dataset.dirty;
          return startProxy(null);
        }, (e) => toast(e.message, true));
        return;
      }
      const login = ev.target.closest("[data-login]");
      if (login) act(login, () => api("accounts/login", {}));
    });
    document.addEventListener("click", (ev) => {
      const b = ev.target.closest("[data-copy]");
      if (!b || !state) return;
      if (b.dataset.copy === "base-url") copyText(state.status.base_url, "Base URL");
      if (b.dataset.copy === "api-key") copyText(state.api_key, "API key");
    });

    const tokenOk = validate($("refresh-token"), $("token-error"), (v) => {
      if (!v) return t("Paste a refresh token first.");
      if (/\s/.test(v)) return t("A refresh token has no spaces or line breaks.");
      return "";
    }, $("token-add"));
    $("token-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const input = $("refresh-token");
      if (!tokenOk()) return;
      act($("token-add"), async () => {
        await api("accounts/token", { refresh_token: input.value });
        input.value = "";
        toast(t("Account added"));
      }, $("token-error"));
    });
    $("refresh-accounts").addEventListener("click", (ev) => act(ev.currentTarget, async () => {
      await api("accounts/refresh", {});
      toast(t("Quota refreshed"));
    }));
  }

  window.trayproxy = {
    api, download, copyText, toast, h, addTab, selectTab, refresh, act, confirmFirst, validate, tieError, mask, keepAnchor,
    changed, t, tn, say, fmt,
    registerPanel(name, hooks) { panels[name] = hooks; if (state && hooks.render) hooks.render(state); },
    onState(fn) { listeners.push(fn); },
    on(kind, fn) { (handlers[kind] = handlers[kind] || []).push(fn); },
    get state() { return state; },
    get connected() { return !!source && source.readyState === EventSource.OPEN; },
  };

  document.addEventListener("DOMContentLoaded", async () => {
    await I18N.ready;
    wire();
    selectTab(location.hash.slice(1) || "overview");
    connect();
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") connect(); else disconnect();
    });
  });
})();
