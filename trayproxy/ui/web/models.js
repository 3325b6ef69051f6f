/* Models tab: which upstream model each client name reaches on each account, the
 * model_mapping editor (add / edit / remove, with wildcards), and "test a name".
 *
 * Data comes from /api/models (control/models_routes.py), fetched when the tab opens, after every
 * mapping change, and when an account's catalog was read again (seen in the polled state);
 * never on every poll, so nothing moves under the pointer.
 */
"use strict";

(function () {
  const tp = window.trayproxy;
  const { h, api, t } = tp;
  const $ = (id) => document.getElementById(id);
  // a pattern: letters, digits, . _ - : @ / and * (same rule as the server's)
  const PATTERN = /^[A-Za-z0-9*][A-Za-z0-9._\-:@/*]{0,127}$/;
  const TARGET = /^[A-Za-z0-9][A-Za-z0-9._\-:@]{0,127}$/;
  const HOW = () => ({ mapping: t("your mapping"), exact: t("served as is"), forwarded: t("Google forwards it"), family: t("family rule") });
  let data = null;
  let editing = null; // the pattern being edited, or null when adding
  let catalogStamp = null;
  let visible = false;

  function showError(el, message) {
    el.textContent = message || "";
    el.hidden = !message;
  }

  function howBadge(how) {
    if (!how) return h("span", { class: "badge bad", text: "404" });
    const base = how.split(" ")[0];
    const name = HOW()[base] || base;
    return h("span", { class: "badge how-" + base, title: how, text: how.endsWith("default") ? t("{rule} (defaults)", { rule: name }) : name });
  }

  function short(email) { return email.split("@")[0]; }
  /* why a name lands where it does, in the page's words (the server's Message; `why` is its English) */
  function why(p) { return p.why_words ? tp.say(p.why_words) : p.why; }

  // -- test a name -------------------------------------------------------------------------
  function renderRow(row) {
    if (!row.accounts.length) return h("p", { class: "empty", text: t("No usable account: add one on the Accounts tab.") });
    return h("ul", { class: "resolved" }, row.accounts.map((p) => h("li", { class: p.target ? "" : "unplaced" },
      h("span", { class: "who", text: p.email }),
      h("code", { class: "target", text: p.target || t("not served") }),
      howBadge(p.how),
      h("span", { class: "why", text: why(p) }))));
  }

  async function testName(ev) {
    ev.preventDefault();
    const name = $("models-test-name").value.trim();
    const out = $("models-test-result");
    showError($("models-test-error"), "");
    if (!name) { showError($("models-test-error"), t("Type a model name first.")); return; }
    await tp.act($("models-test-go"), async () => {
      const res = await api("models/test", { name });
      const served = res.row.served;
      out.replaceChildren(
        h("p", { class: served ? "verdict ok" : "verdict bad",
          text: served ? t("{name} is served:", { name }) : t("{name} is not served by any account: clients get a 404 listing the served models.", { name }) }),
        renderRow(res.row));
    }, $("models-test-error"));
  }

  // -- mapping editor ----------------------------------------------------------------------
  function validate(pattern, target) {
    if (!pattern) return t("Type the client's model name (or a pattern with *).");
    if (!PATTERN.test(pattern) || pattern.includes("..")) return t("“{pattern}” is not a model name or pattern: use letters, digits, . _ - : @ / and *.", { pattern });
    if (!target) return t("Pick the model it should go to.");
    if (!TARGET.test(target) || target.includes("..")) return t("“{target}” is not a model id: the target is one name, without * or /.", { target });
    return "";
  }

  function preview() {
    const pattern = $("models-map-pattern").value.trim();
    const target = $("models-map-target").value.trim();
    const hint = $("models-map-preview");
    const problem = (pattern || target) ? validate(pattern, target) : "";
    if (problem) { hint.textContent = problem; hint.classList.add("warning-text"); return; }
    hint.classList.remove("warning-text");
    if (!target || !data) { hint.textContent = ""; return; }
    const served = data.served.find((m) => m.id === target);
    hint.textContent = served
      ? t("{target} ({name}) is served by {accounts}.", { target, name: served.display_name || target, accounts: served.accounts.map(short).join(", ") })
      : t("No account serves {target}: it will be resolved like any name (Google's forwarding, then its family).", { target });
  }

  function startEdit(entry) {
    editing = entry ? entry.pattern : null;
    $("models-map-pattern").value = entry ? entry.pattern : "";
    $("models-map-target").value = entry ? entry.target : "";
    $("models-map-label").textContent = entry ? t("Edit the mapping for {pattern}", { pattern: entry.pattern }) : t("Add a mapping");
    $("models-map-save").textContent = entry ? t("Save") : t("Add");
    $("models-map-cancel").hidden = !entry;
    showError($("models-map-error"), "");
    preview();
    if (entry) $("models-map-target").focus();
  }

  async function saveMapping(ev) {
    ev.preventDefault();
    const pattern = $("models-map-pattern").value.trim();
    const target = $("models-map-target").value.trim();
    const problem = validate(pattern, target);
    if (problem) { showError($("models-map-error"), problem); return; }
    const body = { pattern, target };
    if (editing !== null) body.previous = editing;
    const wasEditing = editing !== null;
    await tp.act($("models-map-save"), async () => {
      data = await api("models/mapping", body);
      startEdit(null);
      renderAll();
      tp.toast(wasEditing ? t("Mapping for {pattern} saved", { pattern }) : t("{pattern} now goes to {target}", { pattern, target }));
    }, $("models-map-error"));
  }

  function renderMapping() {
    const box = $("models-mapping-list");
    if (!data.mapping.length) {
      box.replaceChildren(h("p", { class: "empty", text: t("No mapping yet: every name is resolved by the rules above.") }));
      return;
    }
    const warned = new Set(data.warnings.map((w) => (/^model_mapping '(.*?)'/.exec(w) || [])[1]));
    box.replaceChildren(h("ul", { class: "mapping" }, data.mapping.map((m) => {
      const remove = h("button", { type: "button", class: "btn small danger", text: t("Remove"), "aria-label": t("Remove the mapping for {pattern}", { pattern: m.pattern }) });
      remove.addEventListener("click", () => {
        if (!tp.confirmFirst(remove, t("Remove?"))) return;
        tp.act(remove, async () => {
          data = await api("models/mapping", { remove: m.pattern });
          if (editing === m.pattern) startEdit(null);
          renderAll();
          tp.toast(t("Removed the mapping for {pattern}", { pattern: m.pattern }));
        }, $("models-map-error"));
      });
      const warning = data.warnings.find((w) => w.startsWith(`model_mapping '${m.pattern}'`));
      return h("li", { "data-pattern": m.pattern, class: warned.has(m.pattern) ? "warned" : "" },
        h("code", { class: "pattern", text: m.pattern }),
        m.pattern.includes("*") ? h("span", { class: "badge", text: t("wildcard") }) : null,
        h("span", { class: "arrow", "aria-hidden": "true", text: "\u2192" }),
        h("code", { class: "target", text: m.target }),
        h("span", { class: "spacer" }),
        h("button", { type: "button", class: "btn small ghost", text: t("Edit"), "aria-label": t("Edit the mapping for {pattern}", { pattern: m.pattern }),
          onclick: () => startEdit(m) }),
        remove,
        warning ? h("p", { class: "warn-line", text: warning.replace(/^model_mapping /, "") }) : null);
    })));
  }

  // -- tables ------------------------------------------------------------------------------
  function renderTable() {
    const table = $("models-table");
    const accounts = data.accounts;
    $("models-table-note").textContent = accounts.length
      ? t("Common client names and your mapped names. Hover a badge for the rule; accounts can differ when their catalogs do.")
      : t("No usable account yet: add one on the Accounts tab.");
    const head = h("tr", {}, h("th", { scope: "col", text: t("Client name") }),
      accounts.map((a) => h("th", { scope: "col", title: a.email, text: short(a.email) })));
    const rows = data.names.map((r) => h("tr", { class: r.served ? "" : "unplaced" },
      h("th", { scope: "row" }, h("code", { text: r.name })),
      r.accounts.map((p) => h("td", { title: why(p) },
        h("code", { class: "target", text: p.target || "404" }), " ", howBadge(p.how)))));
    table.replaceChildren(h("thead", {}, head), h("tbody", {}, rows));
  }

  /* 1048576 -> 1M, 65536 -> 64k, 200000 -> 200k (limits are powers of two or round numbers) */
  function fmt(n) {
    if (!n) return "?";
    if (n % 1048576 === 0) return n / 1048576 + "M";
    if (n % 1024 === 0) return n / 1024 + "k";
    return n >= 1000 ? Math.round(n / 1000) + "k" : String(n);
  }

  function renderServed() {
    const table = $("models-served");
    const rows = data.served.map((m) => h("tr", {},
      h("td", {}, h("code", { text: m.id })), h("td", { text: m.display_name || "" }),
      h("td", { class: "num", text: fmt(m.input_limit) }), h("td", { class: "num", text: fmt(m.output_limit) }),
      h("td", { text: m.accounts.map(short).join(", ") })));
    table.replaceChildren(h("thead", {}, h("tr", {}, [t("Id"), t("Name"), t("Context"), t("Max output"), t("Accounts")].map((x) => h("th", { scope: "col", text: x })))),
      h("tbody", {}, rows.length ? rows : [h("tr", {}, h("td", { colspan: 5, class: "empty", text: t("No catalog read yet.") }))]));
    $("models-served-ids").replaceChildren(...data.served.map((m) => h("option", { value: m.id, label: m.display_name || m.id })));
  }

  function renderAll() {
    if (!data) return;
    renderMapping();
    renderTable();
    renderServed();
    preview();
  }

  async function load() {
    try {
      data = await api("models");
      renderAll();
    } catch (e) {
      tp.toast(t("Could not read the models: {error}", { error: e.message }), true);
    }
  }

  function stampOf(state) {
    return JSON.stringify((state.accounts || []).map((a) => [a.id, a.quota_updated, a.active]));
  }

  document.addEventListener("DOMContentLoaded", async () => {
    await window.tpI18n.ready;
    startEdit(null);
    $("models-test-form").addEventListener("submit", testName);
    $("models-mapping-form").addEventListener("submit", saveMapping);
    $("models-map-cancel").addEventListener("click", () => startEdit(null));
    $("models-map-pattern").addEventListener("input", preview);
    $("models-map-target").addEventListener("input", preview);
    tp.registerPanel("models", {
      show(state) { visible = true; catalogStamp = stampOf(state); load(); },
      render(state) {
        const panel = document.querySelector('[data-panel="models"]');
        visible = panel && !panel.hidden;
        const stamp = stampOf(state);
        if (visible && stamp !== catalogStamp) { catalogStamp = stamp; load(); }
      },
    });
  });
})();
