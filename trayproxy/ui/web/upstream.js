/* trayproxy settings page: Google's upstream as trayproxy follows it, in the page's language: its
 * words are the app's catalogs (t(), the same message ids as the tray's Python code: no second
 * dictionary), its times and numbers the page's Intl formats (i18n.js fmt).
 *
 * - The banner while Google refuses the client version trayproxy reports (what happened and what
 *   to do come from the server in the app's language: status.client_version.banner, the same
 *   words as the tray; Google's own words quoted, marked English; `trayproxy doctor` says it all
 *   in English).
 * - Settings, card "Google upstream" (its fixed words are in index.html): the version reported
 *   now and where it came from, an override (config `client_version`, empty = learn it), and the
 *   opt-in "use Google One AI credits when the quota is spent" (config `use_ai_credits`, off by
 *   default).
 * - Accounts tab: both quota windows (5 hours, weekly) of each model group, drawn by
 *   `trayproxy.quotaWindows(account)` which accounts.js places under the account's state.
 */
"use strict";

(function () {
  const tp = window.trayproxy;
  const { h, t } = tp;
  const $ = (id) => document.getElementById(id);

  /* A reset or spent-until time: the clock within 20 hours, else day and time. */
  function when(ts) {
    return ts * 1000 - Date.now() < 20 * 3600 * 1000 ? tp.fmt.clock(ts) : tp.fmt.shortDate(ts);
  }

  function sourceWords(source) {
    if (source === "override") return t("your setting");
    if (source === "installation") return t("the Antigravity installed on this computer");
    if (source === "updater") return t("learned from Antigravity's updater");
    if (source === "floor") return t("trayproxy's built-in minimum");
    return source;
  }

  function windowCell(w, label) {
    const known = w && w.remaining !== null && w.remaining !== undefined;
    return h("span", { class: "window" + (known && Math.round(w.remaining * 100) === 0 ? " spent" : "") },
      h("span", { class: "muted", text: label }),
      h("b", { text: known ? tp.fmt.percent(w.remaining) : t("unknown") }),
      w && w.reset_time ? h("span", { class: "muted small", text: t("resets {time}", { time: when(w.reset_time) }) }) : null);
  }

  /* Both windows of each model group of an account (null when Google reported none). */
  tp.quotaWindows = function (a) {
    const groups = a.windows || [];
    if (!groups.length && a.credits === null) return null;
    return h("div", { class: "acct-windows-box" },
      groups.length ? h("p", { class: "acct-sub", text: t("Quota windows") }) : null,
      groups.length ? h("div", { class: "acct-windows" },
        groups.map((g) => [
          h("span", { class: "group", text: g.group || g.family },
            g.spent_until ? h("span", { class: "muted small", text: " \u2014 " + t("spent: none of these models until {time}", { time: when(g.spent_until) }) }) : null),
          windowCell(g.five_hour, t("5 hours")),
          windowCell(g.weekly, t("Weekly")),
        ])) : null,
      groups.length ? h("p", { class: "muted small", text: t("The bars below are each model's 5-hour number; a model answers only while both windows of its group have quota.") }) : null,
      a.credits !== null && a.credits !== undefined ? h("p", { class: "muted small", text: t("Google One AI credits: {n}", { n: tp.fmt.number(a.credits) }) }) : null);
  };

  function renderBanner(st) {
    const cv = st.client_version || {};
    const b = cv.alarm && cv.banner ? cv.banner : null;
    const items = b ? [[b.said, b.quote, b.todo, cv.alarm.version, cv.alarm.at]] : [];
    if (!tp.changed("upstream-banner", items)) return;
    $("upstream-banner").replaceChildren(...items.map(([said, quote, todo]) => h("div", { class: "banner error", "data-cause": "client_version" },
      h("span", { class: "text" }, h("b", { text: t("Google refuses trayproxy's client version:") }), " ", said,
        quote ? [" ", h("q", { lang: "en", text: quote })] : null, " ", todo),
      h("div", { class: "actions" }, h("button", { type: "button", class: "btn small ghost", text: t("Open the version setting"),
        onclick: () => { tp.selectTab("settings"); $("client-version").focus(); } })))));
  }

  let dirty = false;
  function renderCard(s) {
    const cv = s.status.client_version || {};
    const cfg = s.config;
    $("client-version-now").textContent = cv.version ? t("Reported now: {version} ({source}).", { version: cv.version, source: sourceWords(cv.source) }) : "";
    const input = $("client-version");
    if (!dirty && document.activeElement !== input) input.value = cfg.client_version || "";
    input.placeholder = cv.version ? t("learned: {version}", { version: cv.version }) : t("learned");
    $("client-version-clear").disabled = !cfg.client_version;
    $("ai-credits").checked = !!cfg.use_ai_credits;
  }

  function wire() {
    const input = $("client-version");
    input.addEventListener("input", () => { dirty = true; });
    const ok = tp.validate(input, $("client-version-error"),
      (v) => (v.trim() === "" || /^\d{1,6}\.\d{1,6}\.\d{1,6}$/.test(v.trim()) ? "" : t("A version is three numbers, like 2.9.1 (or empty to learn it).")), $("client-version-save"));
    $("client-version-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!ok()) return;
      const value = input.value.trim();
      tp.act($("client-version-save"), async () => {
        await tp.api("config", { key: "client_version", value });
        dirty = false;
        tp.toast(value ? t("Client version saved") : t("Client version: learned again"));
      }, $("client-version-error"));
    });
    $("client-version-clear").addEventListener("click", (ev) => tp.act(ev.currentTarget, async () => {
      await tp.api("config", { key: "client_version", value: "" });
      input.value = "";
      dirty = false;
      tp.toast(t("Client version: learned again"));
    }, $("client-version-error")));
    $("ai-credits").addEventListener("change", (ev) => {
      const on = ev.currentTarget.checked;
      tp.act(null, () => tp.api("config", { key: "use_ai_credits", value: on })
        .then(() => tp.toast(on ? t("AI credits may pay from now on") : t("AI credits will not be used"))));
    });
  }

  wire();
  tp.onState((s) => {
    if (!s || !s.status) return;
    renderBanner(s.status);
    renderCard(s);
  });
})();
