/* Keys tab: client keys, one per client or person, with limits (control/keys_routes.py).
 *
 * Create (the key is shown once, in this tab, until it is copied or the tab is left: it is
 * stored only as its hash), list with each key's limits, state and usage, revoke (two steps).
 * Its words are the app's catalogs (t() / tn(), the same message ids as the tray's Python code:
 * no second dictionary), its numbers and dates the page's Intl formats (i18n.js fmt); the tab is
 * built once the catalog is in (tpI18n.ready).
 * Data is fetched when the tab opens and after each change; never polled.
 */
"use strict";

(function () {
  const tp = window.trayproxy;
  const { h, api, t, tn } = tp;
  const $ = (id) => document.getElementById(id);
  let visible = false;
  let section = null;
  let listed = [];  // the keys the list shows: a name in use is said here, in the page's language

  function field(id, label, input, hint) {
    return h("div", { class: "field" }, h("label", { for: id, text: label }), input,
      hint ? h("p", { class: "hint", text: hint }) : null);
  }

  function numberInput(id) {
    return h("input", { id, type: "number", min: "1", inputmode: "numeric", placeholder: t("no limit") });
  }

  function build() {
    section = h("section", {},
      h("div", { class: "card" },
        h("h2", { text: t("Client keys") }),
        h("p", { class: "hint", text: t("Give each client or person a key of their own: you see what each one uses, limit it, and revoke it without changing anyone else's. Your own API key (Overview) stays unlimited.") }),
        h("p", { class: "hint", id: "keys-shared", hidden: true, text: t("Keys are shared by every trayproxy connected to the same PostgreSQL.") })),
      h("div", { class: "card", id: "keys-new-card" },
        h("h2", { text: t("New key") }),
        h("form", { id: "keys-form", autocomplete: "off", novalidate: true },
          field("keys-name", t("Name"), h("input", { id: "keys-name", type: "text", maxlength: "64", placeholder: t("e.g. ci, alice's laptop") })),
          field("keys-models", t("Models"), h("input", { id: "keys-models", type: "text", placeholder: t("all (or e.g. gemini-* claude-sonnet-*)") }),
            t("Model names this key may use, separated by spaces; * matches anything.")),
          h("div", { class: "keys-limits" },
            field("keys-rpm", t("Requests per minute"), numberInput("keys-rpm")),
            field("keys-tpm", t("Tokens per minute"), numberInput("keys-tpm")),
            field("keys-daily", t("Tokens per day"), numberInput("keys-daily")),
            field("keys-expires", t("Expires"), h("input", { id: "keys-expires", type: "date" }))),
          h("div", { class: "row" }, h("button", { type: "submit", class: "btn primary", id: "keys-create", text: t("Create key") })),
          h("p", { class: "error", id: "keys-error", hidden: true })),
        h("div", { class: "keys-created", id: "keys-created", hidden: true })),
      h("div", { class: "card" },
        h("h2", { text: t("Keys") }),
        h("div", { class: "table-wrap" }, h("table", { class: "keys-table", id: "keys-table" })),
        h("p", { class: "empty", id: "keys-empty", hidden: true, text: t("No client keys yet.") })));
    tp.addTab("keys", t("Keys"), section);
  }

  function stateWords(state) {
    if (state === "active") return t("active");
    if (state === "revoked") return t("revoked");
    if (state === "expired") return t("expired");
    return state;
  }

  function limits(k) {
    const parts = [];
    if (k.rpm) parts.push(tn("{n} request/min", "{n} requests/min", k.rpm));
    if (k.tpm) parts.push(tn("{n} token/min", "{n} tokens/min", k.tpm));
    if (k.daily_tokens) parts.push(tn("{n} token/day", "{n} tokens/day", k.daily_tokens));
    if (k.models && k.models.length) parts.push(t("only {models}", { models: k.models.join(" ") }));
    if (k.expires_at) parts.push(t("expires {date}", { date: tp.fmt.date(k.expires_at) }));
    return parts.join(" · ") || t("no limits");
  }

  function render(data) {
    $("keys-shared").hidden = !data.shared || !data.shared.database_url;
    const keys = data.keys || [];
    listed = keys;
    $("keys-empty").hidden = keys.length > 0;
    const table = $("keys-table");
    if (!keys.length) { table.replaceChildren(); return; }
    const cols = { name: t("Name"), key: t("Key"), state: t("State"), limits: t("Limits"), usage: t("Usage") };
    const head = h("thead", {}, h("tr", {}, Object.values(cols).map((x) => h("th", { scope: "col", text: x })),
      h("th", { scope: "col" }, h("span", { class: "sr-only", text: t("Actions") }))));
    const rows = keys.slice().reverse().map((k) => {
      const u = (data.usage || {})[k.id] || {};
      const tokens = (u.input_tokens || 0) + (u.output_tokens || 0);
      const revoke = k.state === "revoked" ? null : h("button", { type: "button", class: "btn small danger", text: t("Revoke"),
        onclick: async (ev) => {
          const b = ev.currentTarget;
          if (!tp.confirmFirst(b, t("Revoke: sure?"))) return;
          await tp.act(b, async () => {
            await api("keys/revoke", { key: k.id });
            tp.toast(t("The key {name} is revoked: it is refused from now on.", { name: k.name }));
            await load();
          });
        } });
      return h("tr", { "data-key": k.id },
        h("td", { class: "k-name", "data-label": cols.name }, h("b", { text: k.name }), h("div", { class: "muted small", text: k.id })),
        h("td", { "data-label": cols.key }, h("code", { text: k.prefix + "…" })),
        h("td", { "data-label": cols.state }, h("span", { class: "badge " + (k.state === "active" ? "ok" : "bad"), text: stateWords(k.state) })),
        h("td", { class: "keys-limits-text", "data-label": cols.limits, text: limits(k) }),
        h("td", { class: "k-usage", "data-label": cols.usage }, h("div", { text: tn("{n} request", "{n} requests", u.requests || 0) }),
          h("div", { class: "muted small", text: tn("{n} token", "{n} tokens", tokens) })),
        h("td", { class: "k-act" }, revoke));
    });
    table.replaceChildren(head, h("tbody", {}, rows));
  }

  async function load() {
    try { render(await api("keys")); } catch (e) { tp.toast(e.message, true); }
  }

  function showCreated(record, key) {
    const box = $("keys-created");
    const code = h("code", { class: "keys-secret", text: key });
    box.replaceChildren(
      h("p", {}, h("b", { text: t("The key for {name}", { name: record.name }) })),
      h("pre", { class: "scroll-x", tabindex: "0", "aria-label": t("The new key") }, code),
      h("p", { class: "hint", text: t("Copy it now: this is the only time it is shown. trayproxy keeps only its hash.") }),
      h("div", { class: "row" },
        h("button", { type: "button", class: "btn primary", text: t("Copy"), onclick: () => tp.copyText(key) }),
        h("button", { type: "button", class: "btn ghost", text: t("Done"), onclick: forget })));
    box.hidden = false;
  }

  function forget() {
    const box = $("keys-created");
    box.replaceChildren();
    box.hidden = true;
  }

  async function submit(ev) {
    ev.preventDefault();
    const err = $("keys-error");
    const name = $("keys-name").value.trim();
    const refuse = (text) => { err.textContent = text; err.hidden = false; };
    if (!name) return refuse(t("Give the key a name first."));
    // the server's own rules (clientkeys/record.py check_name, store.py), said before it is asked
    if (!/^[\p{L}\p{M}\p{N}_.@+\- ]{1,64}$/u.test(name)) {
      return refuse(t("A key's name is 1 to 64 letters, digits, spaces or . _ - @ +"));
    }
    if (listed.some((k) => k.name === name && k.state !== "revoked")) {
      return refuse(t("A key named {name} exists already: revoke it first or choose another name.", { name }));
    }
    const body = { name };
    const models = $("keys-models").value.trim();
    if (models) body.models = models.split(/[\s,]+/).filter(Boolean);
    for (const [id, key] of [["keys-rpm", "rpm"], ["keys-tpm", "tpm"], ["keys-daily", "daily_tokens"]]) {
      const v = $(id).value.trim();
      if (v) body[key] = Number(v);
    }
    const exp = $("keys-expires").value;
    if (exp) { const d = new Date(exp + "T00:00:00"); d.setDate(d.getDate() + 1); body.expires_at = d.getTime() / 1000; }
    await tp.act($("keys-create"), async () => {
      const res = await api("keys/create", body);
      $("keys-form").reset();
      showCreated(res.record, res.key);
      await load();
    }, err);
  }

  function wire() {
    build();
    $("keys-form").addEventListener("submit", submit);
    tp.registerPanel("keys", { show() { visible = true; load(); } });
    // leaving the tab: the key shown once is gone from the page
    $("tabs").addEventListener("click", () => { if (visible && section.hidden) { visible = false; forget(); } });
  }

  window.tpI18n.ready.then(wire);  // built in the page's language
})();
