/* Overview tab, continued: the first-run guide and the client setups.
 *
 * The guide leads a first run (the page saw no account) step by step: sign in with Google, Start,
 * connect a client; it ends with "Show the setups" or "Hide". The setups show the API key masked
 * until "Show key"; Copy always copies the real text.
 */
"use strict";

(function () {
  const tp = window.trayproxy;
  const { h } = tp;
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
    $("guide-account-text").textContent = hasAccount ? `${s.accounts.length} account${s.accounts.length === 1 ? "" : "s"} added.`
      : login.state === "waiting" ? "Finish signing in in your browser, then come back here."
        : login.state === "error" ? login.message
          : "trayproxy answers with the quota of the Google accounts you add.";
    $("guide-start-text").textContent = st.running ? `Running at ${st.base_url}.`
      : hasAccount && !usable ? "No account can answer right now; see Accounts." : "Clients can connect once it runs.";
  }

  function renderSnippets(s) {
    const bar = $("snippet-tabs");
    if (!snippetId || !s.snippets.some((x) => x.id === snippetId)) snippetId = s.snippets[0].id;
    if (bar.children.length !== s.snippets.length) {
      bar.replaceChildren(...s.snippets.map((sn) => h("button", {
        type: "button", role: "tab", "data-snippet": sn.id, text: sn.title,
        onclick: () => { snippetId = sn.id; renderSnippets(state); },
      })));
    }
    for (const b of bar.children) b.setAttribute("aria-selected", b.dataset.snippet === snippetId ? "true" : "false");
    const current = s.snippets.find((x) => x.id === snippetId);
    const key = s.api_key || "";
    $("snippet-code").textContent = revealKey || !key ? current.text : current.text.split(key).join(tp.mask(key));
    $("snippet-code").dataset.snippet = current.id;
    const reveal = $("snippet-reveal");
    reveal.hidden = !key || !current.text.includes(key);
    reveal.textContent = revealKey ? "Hide key" : "Show key";
    reveal.setAttribute("aria-pressed", revealKey ? "true" : "false");
    const urls = [["OpenAI clients", s.urls.openai], ["Anthropic / Claude Code", s.urls.anthropic], ["Gemini", s.urls.gemini]];
    if (!tp.changed("urls", urls)) return;
    $("client-urls").replaceChildren(...urls.map(([who, url]) => h("li", {},
      h("span", { class: "who", text: who }), h("code", { text: url }),
      h("button", { type: "button", class: "btn small ghost", text: "Copy", onclick: () => tp.copyText(url, who + " URL") }))));
  }

  function render(s) {
    state = s;
    renderGuide(s);
    renderSnippets(s);
    $("guide-start-btn").textContent = s.status.running ? "Stop" : "Start";
  }

  function wire() {
    $("guide-connect-btn").addEventListener("click", () => {
      firstRun = false;
      render(state);
      $("connect-card").scrollIntoView({ block: "start" });
      const first = $("snippet-tabs").querySelector("[aria-selected=true]");
      if (first) first.focus({ preventScroll: true });
    });
    $("guide-hide").addEventListener("click", () => { firstRun = false; render(state); });
    $("snippet-reveal").addEventListener("click", () => { revealKey = !revealKey; renderSnippets(state); });

    $("snippet-copy").addEventListener("click", () => {
      const sn = state && state.snippets.find((x) => x.id === snippetId);
      if (sn) tp.copyText(sn.text, sn.title + " setup");
    });
  }

  tp.onState(render);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
})();
