/* "Connect a client" card: one row per client (installed version, connected or not, or pointing
 * at an old port / key: then Connect reads "Fix") with Connect / Check / Undo buttons; Gemini CLI's
 * row also asks whether to trust the folders under home (Gemini CLI reads the proxy's settings
 * only in trusted folders). Results (✓ with the model that answered, or what is wrong, in the
 * page's language: connect/words.py) appear under the row. API: GET/POST /api/connect
 * (trayproxy/connect/routes.py).
 *
 * Connected or not is the pushed status's (`status.clients`, the tray's Connect menu shows the
 * same): a connect from the tray or the CLI reaches this card within a moment, without a reload.
 * The versions and undo backups are read again (GET /api/connect) only when that changes.
 */
"use strict";

(function () {
  const tp = window.trayproxy;
  const { h, t } = tp;
  const list = () => document.getElementById("connect-list");
  const results = {};
  let busy = null;
  let rows = [];
  let lastClients = null;
  let trustHome = false; // Gemini CLI: trust the folders under home on Connect

  function button(label, row, action, enabled) {
    const b = h("button", {
      type: "button", class: "btn small" + (action === "connect" ? "" : " ghost"), // the page's primary action is elsewhere
      "data-connect-client": row.client, "data-connect-action": action,
      "aria-label": t("{action}: {client}", { action: label, client: row.title }),
      text: busy && busy.client === row.client && busy.action === action ? label + "…" : label,
    });
    b.disabled = !enabled || busy !== null;
    b.addEventListener("click", () => run(row.client, action));
    return b;
  }

  /* connected / stale as the pushed status says (what the tray shows too) */
  function liveRow(row) {
    const st = tp.state && tp.state.status.clients;
    const live = st && st.find((c) => c.client === row.client);
    return live ? { ...row, connected: live.connected, stale: live.stale, points_at: live.points_at, can_undo: live.can_undo } : row;
  }

  function render() {
    const el = list();
    if (!el) return;
    el.replaceChildren(...rows.map((r) => {
      const row = liveRow(r);
      const inst = row.installed || {};
      const badge = row.stale
        ? h("span", { class: "connect-badge warn", title: row.points_at || null,
          text: "⚠ " + (row.stale === "port" ? t("Points at an old port") : t("Has an old key")) })
        : h("span", { class: "connect-badge" + (row.connected ? " on" : ""), text: row.connected ? "✓ " + t("Connected") : t("Not connected") });
      const name = h("div", { class: "connect-name" }, row.title,
        h("span", { class: "connect-version", text: inst.binary ? "v" + (inst.version || "?") : t("not installed") }),
        badge,
        inst.newer_than_tested ? h("span", { class: "connect-badge warn",
          text: t("newer than tested ({version})", { version: inst.newest_tested }) }) : null);
      const actions = h("div", { class: "connect-actions" },
        button(row.stale ? t("Fix") : t("Connect"), row, "connect", true), button(t("Check"), row, "check", row.connected),
        button(t("Undo"), row, "undo", row.can_undo));
      let option = null;
      if (row.client === "gemini-cli") {
        const box = h("input", { type: "checkbox", "data-connect-option": "trust", checked: trustHome });
        box.addEventListener("change", () => { trustHome = box.checked; });
        option = h("label", { class: "connect-option" }, box, h("span", { text: t("Trust the folders under my home (Gemini CLI reads the proxy's settings only in trusted folders; it then also loads a project's own settings, MCP servers and .env there without asking)") }));
      }
      const res = results[row.client];
      return h("li", { class: "connect-row", "data-client": row.client }, name, actions, option,
        res ? h("p", { class: "connect-result " + (res.ok ? "ok" : "err"), role: "status" }, res.head,
          res.detail ? h("span", { class: "connect-detail", text: res.detail }) : null) : null);
    }));
  }

  async function refresh() {
    try {
      rows = (await tp.api("connect")).clients;
      render();
    } catch (e) {
      const el = list();
      if (el) el.replaceChildren(h("li", { class: "connect-result err", text: t("Could not read the clients: {error}", { error: e.message }) }));
    }
  }

  async function run(client, action) {
    busy = { client, action };
    render();
    try {
      const body = { client, action };
      if (client === "gemini-cli" && action === "connect" && trustHome) body.options = { trust: "home" };
      const r = await tp.api("connect", body);
      results[client] = { ok: r.ok, head: r.notice.title, detail: r.notice.body };
    } catch (e) {
      results[client] = { ok: false, head: "✗ " + e.message, detail: "" };
    }
    busy = null;
    await refresh();
  }

  tp.onState((s) => {
    const clients = JSON.stringify(s.status.clients || []);
    if (lastClients === null) { lastClients = clients; refresh(); return; }
    if (clients === lastClients) return;
    lastClients = clients;
    render(); // connected or not, at once (a tray action); versions and backups follow
    if (busy === null) refresh();
  });
})();
