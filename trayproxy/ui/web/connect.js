// "Connect a client" card: one row per client (installed version, connected or not) with
// Connect / Check / Undo buttons; results (✓ with the model that answered, or what is wrong)
// appear under the row. API: GET/POST /api/connect (trayproxy/connect/routes.py).
(function () {
  "use strict";
  const TOKEN = document.querySelector('meta[name="trayproxy-token"]').content;
  const list = document.getElementById("connect-list");
  if (!list) return;
  const results = {};
  let busy = null;

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
      const badge = el("span", "connect-badge" + (row.connected ? " on" : ""), row.connected ? "✓ Connected" : "Not connected");
      name.append(badge);
      if (inst.newer_than_tested) name.append(el("span", "connect-badge warn", "newer than tested (" + inst.newest_tested + ")"));
      const actions = el("div", "connect-actions");
      actions.append(button("Connect", row.client, "connect", true),
                     button("Check", row.client, "check", row.connected),
                     button("Undo", row.client, "undo", row.can_undo));
      li.append(name, actions);
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
      const r = await call({ client, action });
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
