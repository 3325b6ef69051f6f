/* "Import accounts": accounts from Antigravity-Manager and CLIProxyAPI (API: POST
 * /api/accounts/import/scan and /api/accounts/import, trayproxy/control/server.py).
 *
 * Adds an "Import accounts" button beside "Sign in with Google" in the first-run guide and in
 * the Accounts tab's "Add an account" card, and its own card in the Accounts tab: what was found
 * where, one row per file (the e-mail, whether its token still refreshes, or why it cannot be
 * imported), checkboxes for the importable ones (all ticked), another folder or file to look in,
 * and one result line per account after the import. Disabled accounts stay disabled; the source
 * files are only read. No token ever reaches the page.
 *
 * Its words are the app's catalogs (t(), tn(): the page's language, no second dictionary); it
 * builds once the catalog is in (tpI18n.ready). The lines the server composes about each file
 * (why it cannot be imported, the result) come from accounts/importer.py as they are.
 */
"use strict";

(function () {
  const tp = window.trayproxy;
  const { h, t, tn } = tp;
  const $ = (id) => document.getElementById(id);
  let card = null;
  let scan = null; // the last scan's answer
  let path = null; // the folder or file it looked at (null: the tools' own folders)

  function buildCard() {
    const panel = document.querySelector('[data-panel="accounts"]');
    card = h("div", { class: "card import-card", id: "import-card", hidden: true, "aria-labelledby": "import-title" },
      h("div", { class: "card-head row" },
        h("h2", { id: "import-title", tabindex: "-1", text: t("Import accounts") }),
        h("div", { class: "spacer" }),
        h("button", { type: "button", class: "btn small ghost", id: "import-close", text: t("Close"),
          onclick: () => { card.hidden = true; } })),
      h("p", { class: "muted", text: t("Accounts signed in with Antigravity-Manager or CLIProxyAPI on this computer. Each one is checked with Google; their files are only read, never changed.") }),
      h("ul", { class: "import-sources", id: "import-sources" }),
      h("p", { class: "hint", id: "import-status", role: "status", "aria-live": "polite" }),
      h("ul", { class: "import-list", id: "import-list" }),
      h("div", { class: "row import-actions" },
        h("button", { type: "button", class: "btn primary", id: "import-go", hidden: true, onclick: (ev) => doImport(ev.currentTarget) })),
      h("ul", { class: "import-results", id: "import-results", "aria-live": "polite" }),
      h("form", { class: "inline-form import-other", id: "import-other", autocomplete: "off", novalidate: true },
        h("label", { for: "import-path", text: t("Another folder or file") }),
        h("div", { class: "row" },
          h("input", { id: "import-path", type: "text", spellcheck: "false", placeholder: t("/path/to/.antigravity_tools or .cli-proxy-api") }),
          h("button", { type: "submit", class: "btn", id: "import-look", text: t("Look there") })),
        h("p", { class: "error", id: "import-error", hidden: true })));
    // right after the "Add an account" card
    const add = $("token-details") ? $("token-details").closest(".card") : null;
    if (add && add.parentNode === panel) add.after(card); else panel.append(card);
    $("import-other").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const v = $("import-path").value.trim();
      if (v && !/^([/~]|[A-Za-z]:[\\/])/.test(v)) {
        $("import-error").textContent = t("Give the full path (starting with / or ~).");
        $("import-error").hidden = false;
        return;
      }
      path = v || null;
      look($("import-look"));
    });
  }

  function addButtons() {
    const places = [$("login"), document.querySelector("#guide-account [data-login]")];
    for (const login of places) {
      if (!login) continue;
      const b = h("button", { type: "button", class: "btn", "data-import": "", text: t("Import accounts") });
      login.after(" ", b);
    }
    const hint = $("login-status");
    if (hint) hint.after(h("p", { class: "muted small", text: t("From Antigravity-Manager or CLIProxyAPI on this computer.") }));
    document.addEventListener("click", (ev) => {
      const b = ev.target.closest("[data-import]");
      if (!b) return;
      tp.selectTab("accounts");
      card.hidden = false;
      card.scrollIntoView({ block: "start" });
      $("import-title").focus({ preventScroll: true });
      look(b);
    });
  }

  function renderSources(sources) {
    $("import-sources").replaceChildren(...sources.map((s) => h("li", {},
      h("b", { text: s.name === "file" ? t("file") : s.name }), " ",
      h("code", { text: s.shown_root }), ": ",
      s.exists ? tn("{n} file", "{n} files", s.files) + (s.note ? ` (${s.note})` : "") : (s.note || t("not found")))));
  }

  function renderList(candidates) {
    $("import-list").replaceChildren(...candidates.map((c, i) => {
      const id = `import-${i}`;
      const who = c.email || c.shown_path.split("/").pop();
      return h("li", { class: "import-row " + c.state, "data-state": c.state },
        h("input", { type: "checkbox", id, "data-key": c.key, checked: c.importable, disabled: !c.importable,
          onchange: updateGo }),
        h("label", { for: id },
          h("span", { class: "who", text: who }),
          h("span", { class: "why", text: c.message }),
          h("span", { class: "where muted small", text: `${c.source}: ${c.shown_path}` })));
    }));
  }

  function chosen() {
    return Array.from($("import-list").querySelectorAll("input[type=checkbox]:checked")).map((b) => b.dataset.key);
  }

  function updateGo() {
    const n = chosen().length;
    const go = $("import-go");
    go.hidden = !scan || !scan.candidates.some((c) => c.importable);
    go.disabled = n === 0;
    go.textContent = t("Import {n} selected", { n: tp.fmt.number(n) });
  }

  async function look(button) {
    $("import-error").hidden = true;
    $("import-results").replaceChildren();
    $("import-list").replaceChildren();
    $("import-go").hidden = true;
    $("import-status").textContent = t("Looking in their folders and checking each account with Google…");
    card.setAttribute("aria-busy", "true");
    await tp.act(button, async () => {
      scan = await tp.api("accounts/import/scan", { path });
      renderSources(scan.sources);
      renderList(scan.candidates);
      $("import-status").textContent = !scan.candidates.length ? t("No account files found. If they are somewhere else, give the folder below.")
        : scan.candidates.some((c) => c.importable) ? "" : t("Nothing here can be imported (see why on each line).");
      $("import-look").textContent = path ? t("Look again") : t("Look there");
      updateGo();
    }, $("import-error"));
    card.removeAttribute("aria-busy");
    if (!scan) $("import-status").textContent = "";
  }

  async function doImport(button) {
    const keys = chosen();
    if (!keys.length) return;
    $("import-status").textContent = t("Importing…");
    await tp.act(button, async () => {
      const data = await tp.api("accounts/import", { keys, path });
      const results = data.results || [];
      $("import-results").replaceChildren(...results.map((r) => h("li", { class: "import-result " + r.result, "data-result": r.result },
        h("b", { text: r.email || r.shown_path || r.key }), ": ", r.message)));
      const n = results.filter((r) => r.result === "imported" || r.result === "imported_disabled").length;
      $("import-status").textContent = "";
      $("import-list").replaceChildren();
      $("import-go").hidden = true;
      scan = null;
      tp.toast(tn("Imported {n} account", "Imported {n} accounts", n));
    }, $("import-error"));
  }

  function wire() {
    buildCard();
    addButtons();
  }

  window.tpI18n.ready.then(wire);  // built in the page's language
})();
