// "Connect a client" card: one row per client (installed version, connected or not, or pointing
// at an old port / key: then Connect reads "Fix") with Connect / Check / Undo buttons; Gemini CLI's
// row also asks whether to trust the folders under home (Gemini CLI reads the proxy's settings only
// in trusted folders). Results (✓ with the model that answered, or what is wrong) appear under
// the row. API: GET/POST /api/connect (trayproxy/connect/routes.py).
(function () {
  "use strict";
  const TOKEN = document.querySelector('meta[name="trayproxy-token"]').content;
  const list = document.getElementById("connect-list");
  if (!list) return;
  const results = {};
  let busy = null;
  let trustHome = false; // Gemini CLI: trust the folders under home on Connect

  async function call(body) {
    const opts = { method: body ? "POST" : "GET", headers: { "X-Trayproxy-Token": TOKEN } };
    if (body) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    const resp = await fetch("/api/connect", opts);
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new Error(data.error || "HTTP " + resp.status);
    return data;
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function button(label, client, action, enabled) {
    const b = el("button", "btn small" + (action === "connect" ? " primary" : " ghost"), label);
    b.type = "button";
    b.dataset.connectClient = client;
    b.dataset.connectAction = action;
    b.disabled = !enabled || busy !== null;
    if (busy && busy.client === client && busy.action === action) b.textContent = label + "…";
    b.addEventListener("click", () => run(client, action));
    return b;
  }

  function render(rows) {
    list.replaceChildren();
    for (const row of rows) {
      const li = el("li", "connect-row");
      li.dataset.client = row.client;
      const name = el("div", "connect-name", row.title);
      const inst = row.installed || {};
      name.append(el("span", "connect-version", inst.binary ? "v" + (inst.version || "?") : "not installed"));
      let badge;
      if (row.stale) {
        badge = el("span", "connect-badge warn", row.stale === "port" ? "⚠ Points at an old port" : "⚠ Has an old key");
        if (row.points_at) badge.title = row.points_at;
      } else {
        badge = el("span", "connect-badge" + (row.connected ? " on" : ""), row.connected ? "✓ Connected" : "Not connected");
      }
      name.append(badge);
      if (inst.newer_than_tested) name.append(el("span", "connect-badge warn", "newer than tested (" + inst.newest_tested + ")"));
      const actions = el("div", "connect-actions");
      actions.append(button(row.stale ? "Fix" : "Connect", row.client, "connect", true),
                     button("Check", row.client, "check", row.connected),
                     button("Undo", row.client, "undo", row.can_undo));
      li.append(name, actions);
      if (row.client === "gemini-cli") {
        const label = el("label", "connect-option");
        const box = el("input");
        box.type = "checkbox";
        box.checked = trustHome;
        box.dataset.connectOption = "trust";
        box.addEventListener("change", () => { trustHome = box.checked; });
        label.append(box, el("span", "", "Trust the folders under my home (Gemini CLI reads the proxy's settings only in "
          + "trusted folders; it then also loads a project's own settings, MCP servers and .env there without asking)"));
        li.append(label);
      }
      const res = results[row.client];
      if (res) {
        const p = el("p", "connect-result " + (res.ok ? "ok" : "err"), res.head);
        if (res.detail) p.append(el("span", "connect-detail", res.detail));
        li.append(p);
      }
      list.append(li);
    }
  }

  let rows = [];
  async function refresh() {
    try {
      rows = (await call()).clients;
      render(rows);
    } catch (e) {
      list.replaceChildren(el("li", "connect-result err", "Could not read the clients: " + e.message));
    }
  }

  async function run(client, action) {
    busy = { client, action };
    render(rows);
    try {
      const body = { client, action };
      if (client === "gemini-cli" && action === "connect" && trustHome) body.options = { trust: "home" };
      const r = await call(body);
      const lines = (r.summary || []).slice(1).map((s) => s.trim()).filter((s) => !s.startsWith("backup in"));
      results[client] = { ok: r.ok, head: r.summary ? r.summary[0] : (r.ok ? "✓" : "✗"), detail: lines.join("\n") };
    } catch (e) {
      results[client] = { ok: false, head: "✗ " + e.message, detail: "" };
    }
    busy = null;
    await refresh();
  }

  document.addEventListener("DOMContentLoaded", refresh);
  if (document.readyState !== "loading") refresh();
})();
