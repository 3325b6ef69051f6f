/* Overview tab, continued: the first-run guide and the client setups.
 *
 * The guide leads a first run (the page saw no account) step by step: sign in with Google, Start,
 * connect a client; it ends with "Show the setups" or "Hide". The setups show the API key masked
 * until "Show key"; Copy always copies the real text.
 */
"use strict";

(function () {
  const tp = window.trayproxy;
  const { h, t, tn } = tp;
  const $ = (id) => document.getElementById(id);
  let snippetId = null;
  let revealKey = false;
  let firstRun = false; // the page saw no account: the guide leads until a client can connect
  let state = null;

  /* Step by step until the first client can connect: account, Start, connect. */
  function renderGuide(s) {
    const st = s.status;
    const hasAccount = s.accounts.length > 0 || st.active_accounts > 0;
    const usable = st.active_accounts > 0 || st.upstreams.length > 0;
    // a first run: from "no account" until the first client is shown how to connect
    // (it ends with "Show the setups" or "Hide")
    if (!hasAccount) firstRun = true;
    const show = firstRun;
    const guide = $("guide");
    guide.hidden = !show;
    if (!show) return;
    const steps = [
      ["guide-account", hasAccount ? "done" : "current"],
      ["guide-start", st.running ? "done" : hasAccount ? "current" : "todo"],
      ["guide-connect", st.running ? "current" : "todo"],
    ];
    for (const [id, step] of steps) $(id).dataset.step = step;
    $("guide-hide").hidden = !st.running;
    const login = s.login || {};
    $("guide-account-text").textContent = hasAccount ? tn("{n} account added.", "{n} accounts added.", s.accounts.length)
      : login.state === "waiting" ? t("Finish signing in in your browser, then come back here.")
        : login.state === "error" ? login.message
          : t("trayproxy answers with the quota of the Google accounts you add.");
    $("guide-start-text").textContent = st.running ? t("Running at {url}.", { url: st.base_url })
      : hasAccount && !usable ? t("No account can answer right now; see Accounts.") : t("Clients can connect once it runs.");
  }

  function renderSnippets(s) {
    const bar = $("snippet-tabs");
    if (!snippetId || !s.snippets.some((x) => x.id === snippetId)) snippetId = s.snippets[0].id;
    if (bar.children.length !== s.snippets.length) {
      bar.replaceChildren(...s.snippets.map((sn) => h("button", {
        type: "button", role: "tab", "data-snippet": sn.id, text: sn.title, id: "snippet-tab-" + sn.id,
        "aria-controls": "snippet-panel", onclick: () => { snippetId = sn.id; renderSnippets(state); },
      })));
    }
    for (const b of bar.children) {
      const on = b.dataset.snippet === snippetId;
      b.setAttribute("aria-selected", on ? "true" : "false");
      b.tabIndex = on ? 0 : -1;
    }
    $("snippet-panel").setAttribute("aria-labelledby", "snippet-tab-" + snippetId);
    const current = s.snippets.find((x) => x.id === snippetId);
    const key = s.api_key || "";
    $("snippet-code").textContent = revealKey || !key ? current.text : current.text.split(key).join(tp.mask(key));
    $("snippet-code").dataset.snippet = current.id;
    const reveal = $("snippet-reveal");
    reveal.hidden = !key || !current.text.includes(key);
    reveal.textContent = revealKey ? t("Hide key") : t("Show key");
    reveal.setAttribute("aria-pressed", revealKey ? "true" : "false");
    const urls = [[t("OpenAI clients"), s.urls.openai], [t("Anthropic / Claude Code"), s.urls.anthropic], [t("Gemini"), s.urls.gemini]];
    if (!tp.changed("urls", urls)) return;
    $("client-urls").replaceChildren(...urls.map(([who, url]) => h("li", {},
      h("span", { class: "who", text: who }), h("code", { text: url }),
      h("button", { type: "button", class: "btn small ghost", text: t("Copy"), "aria-label": t("Copy the URL for {who}", { who }),
        onclick: () => tp.copyText(url, t("{who} URL", { who })) }))));
  }

  function render(s) {
    state = s;
    renderGuide(s);
    renderSnippets(s);
    $("guide-start-btn").textContent = s.status.running ? t("Stop") : t("Start");
  }

  function wire() {
    $("guide-connect-btn").addEventListener("click", () => {
      firstRun = false;
      render(state);
      $("connect-card").scrollIntoView({ block: "start" });
      const first = $("connect-list").querySelector("button");
      if (first) first.focus({ preventScroll: true });
    });
    $("guide-hide").addEventListener("click", () => { firstRun = false; render(state); });
    $("snippet-reveal").addEventListener("click", () => { revealKey = !revealKey; renderSnippets(state); });

    $("snippet-copy").addEventListener("click", () => {
      const sn = state && state.snippets.find((x) => x.id === snippetId);
      if (sn) tp.copyText(sn.text, t("{client} setup", { client: sn.title }));
    });
  }

  tp.onState(render);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
})();
