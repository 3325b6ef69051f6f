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
 * Every string this feature shows is in WORDS below (one place to translate).
 */
"use strict";

(function () {
  const WORDS = {
    button: "Import accounts",
    buttonHint: "From Antigravity-Manager or CLIProxyAPI on this computer.",
    title: "Import accounts",
    intro: "Accounts signed in with Antigravity-Manager or CLIProxyAPI on this computer. Each one is checked with Google; their files are only read, never changed.",
    looking: "Looking in their folders and checking each account with Google...",
    notFound: "not found",
    files: (n) => `${n} file${n === 1 ? "" : "s"}`,
    nothingFound: "No account files found. If they are somewhere else, give the folder below.",
    nothingImportable: "Nothing here can be imported (see why on each line).",
    otherLabel: "Another folder or file",
    otherPlaceholder: "/path/to/.antigravity_tools or .cli-proxy-api",
    lookThere: "Look there",
    lookAgain: "Look again",
    importSelected: (n) => `Import ${n} selected`,
    importing: "Importing...",
    close: "Close",
    imported: (n) => `Imported ${n} account${n === 1 ? "" : "s"}`,
    pathAbsolute: "Give the full path (starting with / or ~).",
    file: "file",
  };

  const tp = window.trayproxy;
  const { h } = tp;
  const $ = (id) => document.getElementById(id);
  let card = null;
  let scan = null; // the last scan's answer
  let path = null; // the folder or file it looked at (null: the tools' own folders)

  function buildCard() {
    const panel = document.querySelector('[data-panel="accounts"]');
    card = h("div", { class: "card import-card", id: "import-card", hidden: true, "aria-labelledby": "import-title" },
      h("div", { class: "card-head row" },
        h("h2", { id: "import-title", tabindex: "-1", text: WORDS.title }),
        h("div", { class: "spacer" }),
        h("button", { type: "button", class: "btn small ghost", id: "import-close", text: WORDS.close,
          onclick: () => { card.hidden = true; } })),
      h("p", { class: "muted", text: WORDS.intro }),
      h("ul", { class: "import-sources", id: "import-sources" }),
      h("p", { class: "hint", id: "import-status", role: "status", "aria-live": "polite" }),
      h("ul", { class: "import-list", id: "import-list" }),
      h("div", { class: "row import-actions" },
        h("button", { type: "button", class: "btn primary", id: "import-go", hidden: true, onclick: (ev) => doImport(ev.currentTarget) })),
      h("ul", { class: "import-results", id: "import-results", "aria-live": "polite" }),
      h("form", { class: "inline-form import-other", id: "import-other", autocomplete: "off", novalidate: true },
        h("label", { for: "import-path", text: WORDS.otherLabel }),
        h("div", { class: "row" },
          h("input", { id: "import-path", type: "text", spellcheck: "false", placeholder: WORDS.otherPlaceholder }),
          h("button", { type: "submit", class: "btn", id: "import-look", text: WORDS.lookThere })),
        h("p", { class: "error", id: "import-error", hidden: true })));
    // right after the "Add an account" card
    const add = $("token-details") ? $("token-details").closest(".card") : null;
    if (add && add.parentNode === panel) add.after(card); else panel.append(card);
    $("import-other").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const v = $("import-path").value.trim();
      if (v && !/^([/~]|[A-Za-z]:[\\/])/.test(v)) {
        $("import-error").textContent = WORDS.pathAbsolute;
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
      const b = h("button", { type: "button", class: "btn", "data-import": "", text: WORDS.button });
      login.after(" ", b);
    }
    const hint = $("login-status");
    if (hint) hint.after(h("p", { class: "muted small", text: WORDS.buttonHint }));
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
      h("b", { text: s.name === "file" ? WORDS.file : s.name }), " ",
      h("code", { text: s.shown_root }), ": ",
      s.exists ? WORDS.files(s.files) + (s.note ? ` (${s.note})` : "") : (s.note || WORDS.notFound))));
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
    go.textContent = WORDS.importSelected(n);
  }

  async function look(button) {
    $("import-error").hidden = true;
    $("import-results").replaceChildren();
    $("import-list").replaceChildren();
    $("import-go").hidden = true;
    $("import-status").textContent = WORDS.looking;
    card.setAttribute("aria-busy", "true");
    await tp.act(button, async () => {
      scan = await tp.api("accounts/import/scan", { path });
      renderSources(scan.sources);
      renderList(scan.candidates);
      $("import-status").textContent = !scan.candidates.length ? WORDS.nothingFound
        : scan.candidates.some((c) => c.importable) ? "" : WORDS.nothingImportable;
      $("import-look").textContent = path ? WORDS.lookAgain : WORDS.lookThere;
      updateGo();
    }, $("import-error"));
    card.removeAttribute("aria-busy");
    if (!scan) $("import-status").textContent = "";
  }

  async function doImport(button) {
    const keys = chosen();
    if (!keys.length) return;
    $("import-status").textContent = WORDS.importing;
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
      tp.toast(WORDS.imported(n));
    }, $("import-error"));
  }

  function wire() {
    buildCard();
    addButtons();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
})();
