/* Keys tab: client keys, one per client or person, with limits (control/keys_routes.py).
 *
 * Create (the key is shown once, in this tab, until it is copied or the tab is left: it is
 * stored only as its hash), list with each key's limits, state and usage, revoke (two steps).
 * Every word the tab shows is in WORDS below, so the page's translations find them in one place.
 * Data is fetched when the tab opens and after each change; never polled.
 */
"use strict";

(function () {
  const tp = window.trayproxy;
  const { h, api } = tp;

  const WORDS = {
    tab: "Keys",
    title: "Client keys",
    intro: "Give each client or person a key of their own: you see what each one uses, limit it, and revoke it " +
      "without changing anyone else's. Your own API key (Overview) stays unlimited.",
    newTitle: "New key",
    name: "Name",
    namePlaceholder: "e.g. ci, alice's laptop",
    models: "Models",
    modelsPlaceholder: "all (or e.g. gemini-* claude-sonnet-*)",
    modelsHint: "Model names this key may use, separated by spaces; * matches anything.",
    rpm: "Requests per minute",
    tpm: "Tokens per minute",
    daily: "Tokens per day",
    expires: "Expires",
    noLimit: "no limit",
    create: "Create key",
    createdTitle: (name) => `The key for ${name}`,
    createdHint: "Copy it now: this is the only time it is shown. trayproxy keeps only its hash.",
    copy: "Copy",
    done: "Done",
    listTitle: "Keys",
    empty: "No client keys yet.",
    colName: "Name",
    colKey: "Key",
    colState: "State",
    colLimits: "Limits",
    colUsage: "Usage",
    colActions: "Actions",
    revoke: "Revoke",
    revokeConfirm: "Revoke: sure?",
    revoked: (name) => `The key ${name} is revoked: it is refused from now on.`,
    state: { active: "active", revoked: "revoked", expired: "expired" },
    requests: (n) => `${n.toLocaleString()} requests`,
    tokens: (n) => `${n.toLocaleString()} tokens`,
    perMinute: (n) => `${n.toLocaleString()} req/min`,
    tokensPerMinute: (n) => `${n.toLocaleString()} tokens/min`,
    tokensPerDay: (n) => `${n.toLocaleString()} tokens/day`,
    expiresOn: (d) => `expires ${d}`,
    onlyModels: (m) => `only ${m}`,
    unlimited: "no limits",
    needName: "Give the key a name first.",
    shared: "Keys are shared by every trayproxy connected to the same PostgreSQL.",
  };

  const $ = (id) => document.getElementById(id);
  let visible = false;

  function field(id, label, input, hint) {
    return h("div", { class: "field" }, h("label", { for: id, text: label }), input,
      hint ? h("p", { class: "hint", text: hint }) : null);
  }

  function numberInput(id) {
    return h("input", { id, type: "number", min: "1", inputmode: "numeric", placeholder: WORDS.noLimit });
  }

  const section = h("section", {},
    h("div", { class: "card" },
      h("h2", { text: WORDS.title }),
      h("p", { class: "hint", text: WORDS.intro }),
      h("p", { class: "hint", id: "keys-shared", hidden: true, text: WORDS.shared })),
    h("div", { class: "card", id: "keys-new-card" },
      h("h2", { text: WORDS.newTitle }),
      h("form", { id: "keys-form", autocomplete: "off", novalidate: true },
        field("keys-name", WORDS.name, h("input", { id: "keys-name", type: "text", maxlength: "64", placeholder: WORDS.namePlaceholder })),
        field("keys-models", WORDS.models, h("input", { id: "keys-models", type: "text", placeholder: WORDS.modelsPlaceholder }), WORDS.modelsHint),
        h("div", { class: "keys-limits" },
          field("keys-rpm", WORDS.rpm, numberInput("keys-rpm")),
          field("keys-tpm", WORDS.tpm, numberInput("keys-tpm")),
          field("keys-daily", WORDS.daily, numberInput("keys-daily")),
          field("keys-expires", WORDS.expires, h("input", { id: "keys-expires", type: "date" }))),
        h("div", { class: "row" }, h("button", { type: "submit", class: "btn primary", id: "keys-create", text: WORDS.create })),
        h("p", { class: "error", id: "keys-error", hidden: true })),
      h("div", { class: "keys-created", id: "keys-created", hidden: true })),
    h("div", { class: "card" },
      h("h2", { text: WORDS.listTitle }),
      h("div", { class: "table-wrap" }, h("table", { class: "keys-table", id: "keys-table" })),
      h("p", { class: "empty", id: "keys-empty", hidden: true, text: WORDS.empty })));
  tp.addTab("keys", WORDS.tab, section);

  function limits(k) {
    const parts = [];
    if (k.rpm) parts.push(WORDS.perMinute(k.rpm));
    if (k.tpm) parts.push(WORDS.tokensPerMinute(k.tpm));
    if (k.daily_tokens) parts.push(WORDS.tokensPerDay(k.daily_tokens));
    if (k.models && k.models.length) parts.push(WORDS.onlyModels(k.models.join(" ")));
    if (k.expires_at) parts.push(WORDS.expiresOn(new Date(k.expires_at * 1000).toLocaleDateString()));
    return parts.join(" · ") || WORDS.unlimited;
  }

  function render(data) {
    $("keys-shared").hidden = !data.shared || !data.shared.database_url;
    const keys = data.keys || [];
    $("keys-empty").hidden = keys.length > 0;
    const table = $("keys-table");
    if (!keys.length) { table.replaceChildren(); return; }
    const head = h("thead", {}, h("tr", {}, [WORDS.colName, WORDS.colKey, WORDS.colState, WORDS.colLimits, WORDS.colUsage]
      .map((t) => h("th", { scope: "col", text: t })), h("th", { scope: "col" }, h("span", { class: "sr-only", text: WORDS.colActions }))));
    const rows = keys.slice().reverse().map((k) => {
      const u = (data.usage || {})[k.id] || {};
      const tokens = (u.input_tokens || 0) + (u.output_tokens || 0);
      const revoke = k.state === "revoked" ? null : h("button", { type: "button", class: "btn small danger", text: WORDS.revoke,
        onclick: async (ev) => {
          const b = ev.currentTarget;
          if (!tp.confirmFirst(b, WORDS.revokeConfirm)) return;
          await tp.act(b, async () => {
            await api("keys/revoke", { key: k.id });
            tp.toast(WORDS.revoked(k.name));
            await load();
          });
        } });
      return h("tr", { "data-key": k.id },
        h("td", { class: "k-name", "data-label": WORDS.colName }, h("b", { text: k.name }), h("div", { class: "muted small", text: k.id })),
        h("td", { "data-label": WORDS.colKey }, h("code", { text: k.prefix + "…" })),
        h("td", { "data-label": WORDS.colState }, h("span", { class: "badge " + (k.state === "active" ? "ok" : "bad"), text: WORDS.state[k.state] || k.state })),
        h("td", { class: "keys-limits-text", "data-label": WORDS.colLimits, text: limits(k) }),
        h("td", { "data-label": WORDS.colUsage }, h("div", { text: WORDS.requests(u.requests || 0) }), h("div", { class: "muted small", text: WORDS.tokens(tokens) })),
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
      h("p", {}, h("b", { text: WORDS.createdTitle(record.name) })),
      h("pre", { class: "scroll-x", tabindex: "0" }, code),
      h("p", { class: "hint", text: WORDS.createdHint }),
      h("div", { class: "row" },
        h("button", { type: "button", class: "btn primary", text: WORDS.copy, onclick: () => tp.copyText(key) }),
        h("button", { type: "button", class: "btn ghost", text: WORDS.done, onclick: forget })));
    box.hidden = false;
  }

  function forget() {
    const box = $("keys-created");
    box.replaceChildren();
    box.hidden = true;
  }

  $("keys-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const err = $("keys-error");
    const name = $("keys-name").value.trim();
    if (!name) { err.textContent = WORDS.needName; err.hidden = false; return; }
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
  });

  tp.registerPanel("keys", { show() { visible = true; load(); } });
  // leaving the tab: the key shown once is gone from the page
  $("tabs").addEventListener("click", () => { if (visible && section.hidden) { visible = false; forget(); } });
})();
