/* trayproxy settings page: Google's upstream as trayproxy follows it. Every string this part of
 * the page shows is in WORDS below (one place to translate).
 *
 * - The banner while Google refuses the client version trayproxy reports (the text and what to
 *   do come from the server: status.client_version.banner; the same words as the tray and
 *   `trayproxy doctor`).
 * - Settings, card "Google upstream": the version reported now and where it came from, an
 *   override (config `client_version`, empty = learn it), and the opt-in "use Google One AI
 *   credits when the quota is spent" (config `use_ai_credits`, off by default).
 * - Accounts tab: both quota windows (5 hours, weekly) of each model group, drawn by
 *   `trayproxy.quotaWindows(account)` which accounts.js places under the account's state.
 */
"use strict";

(function () {
  const tp = window.trayproxy;
  const h = tp.h;
  const $ = (id) => document.getElementById(id);

  const WORDS = {
    bannerTitle: "Google refuses trayproxy's client version:",
    openSettings: "Open the version setting",
    title: "Google upstream",
    intro: "What trayproxy tells Google it is, and what may pay when the quota is spent.",
    versionLabel: "Antigravity version reported to Google",
    versionNow: (v, from) => `Reported now: ${v} (${from}).`,
    sources: { override: "your setting", installation: "the Antigravity installed on this computer",
      updater: "learned from Antigravity's updater", floor: "trayproxy's built-in minimum" },
    versionHint: "Leave it empty to let trayproxy learn it (Antigravity's updater every few hours, the Antigravity installed here). Set one only if Google refuses the learned version.",
    versionPlaceholder: "learned",
    save: "Save",
    clear: "Learn it",
    saved: "Client version saved",
    cleared: "Client version: learned again",
    badVersion: "A version is three numbers, like 2.9.1 (or empty to learn it).",
    creditsLabel: "Use Google One AI credits when the quota is spent",
    creditsHint: "Off: requests wait for the quota to come back. On: once every account's quota for a model is spent, Google One AI credits of the account pay for the request (accounts without credits are skipped).",
    creditsOn: "AI credits may pay from now on",
    creditsOff: "AI credits will not be used",
    windows: "Quota windows",
    fiveHour: "5 hours",
    weekly: "Weekly",
    unknown: "unknown",
    spentUntil: (when) => `spent: none of these models until ${when}`,
    resets: (when) => `resets ${when}`,
    perModel: "The bars below are each model's 5-hour number; a model answers only while both windows of its group have quota.",
    credits: (n) => `Google One AI credits: ${n}`,
  };

  function when(ts) {
    const d = new Date(ts * 1000);
    const soon = ts * 1000 - Date.now() < 20 * 3600 * 1000;
    return soon ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
      : d.toLocaleString([], { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  }

  function windowCell(w, label) {
    const known = w && w.remaining !== null && w.remaining !== undefined;
    const pct = known ? Math.round(w.remaining * 100) : null;
    return h("span", { class: "window" + (known && pct === 0 ? " spent" : "") },
      h("span", { class: "muted", text: label }),
      h("b", { text: known ? pct + "%" : WORDS.unknown }),
      w && w.reset_time ? h("span", { class: "muted small", text: WORDS.resets(when(w.reset_time)) }) : null);
  }

  /* Both windows of each model group of an account (null when Google reported none). */
  tp.quotaWindows = function (a) {
    const groups = a.windows || [];
    if (!groups.length && a.credits === null) return null;
    return h("div", { class: "acct-windows-box" },
      groups.length ? h("p", { class: "acct-sub", text: WORDS.windows }) : null,
      groups.length ? h("div", { class: "acct-windows" },
        groups.map((g) => [
          h("span", { class: "group", text: g.group || g.family },
            g.spent_until ? h("span", { class: "muted small", text: " \u2014 " + WORDS.spentUntil(when(g.spent_until)) }) : null),
          windowCell(g.five_hour, WORDS.fiveHour),
          windowCell(g.weekly, WORDS.weekly),
        ])) : null,
      groups.length ? h("p", { class: "muted small", text: WORDS.perModel }) : null,
      a.credits !== null && a.credits !== undefined ? h("p", { class: "muted small", text: WORDS.credits(a.credits) }) : null);
  };

  function renderBanner(st) {
    const cv = st.client_version || {};
    const items = cv.alarm ? [[cv.banner, cv.alarm.version, cv.alarm.at]] : [];
    if (!tp.changed("upstream-banner", items)) return;
    $("upstream-banner").replaceChildren(...items.map(([text]) => h("div", { class: "banner error", "data-cause": "client_version" },
      h("span", { class: "text" }, h("b", { text: WORDS.bannerTitle }), " ", text),
      h("div", { class: "actions" }, h("button", { type: "button", class: "btn small ghost", text: WORDS.openSettings,
        onclick: () => { tp.selectTab("settings"); $("client-version").focus(); } })))));
  }

  let dirty = false;
  function renderCard(s) {
    const cv = s.status.client_version || {};
    const cfg = s.config;
    $("client-version-now").textContent = cv.version ? WORDS.versionNow(cv.version, WORDS.sources[cv.source] || cv.source) : "";
    const input = $("client-version");
    if (!dirty && document.activeElement !== input) input.value = cfg.client_version || "";
    input.placeholder = WORDS.versionPlaceholder + (cv.version ? ": " + cv.version : "");
    $("client-version-clear").disabled = !cfg.client_version;
    $("ai-credits").checked = !!cfg.use_ai_credits;
  }

  function wire() {
    $("upstream-title").textContent = WORDS.title;
    $("upstream-intro").textContent = WORDS.intro;
    $("client-version-label").textContent = WORDS.versionLabel;
    $("client-version-hint").textContent = WORDS.versionHint;
    $("client-version-save").textContent = WORDS.save;
    $("client-version-clear").textContent = WORDS.clear;
    $("ai-credits-label").textContent = WORDS.creditsLabel;
    $("ai-credits-hint").textContent = WORDS.creditsHint;
    const input = $("client-version");
    input.addEventListener("input", () => { dirty = true; });
    const ok = tp.validate(input, $("client-version-error"),
      (v) => (v.trim() === "" || /^\d{1,6}\.\d{1,6}\.\d{1,6}$/.test(v.trim()) ? "" : WORDS.badVersion), $("client-version-save"));
    $("client-version-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!ok()) return;
      const value = input.value.trim();
      tp.act($("client-version-save"), async () => {
        await tp.api("config", { key: "client_version", value });
        dirty = false;
        tp.toast(value ? WORDS.saved : WORDS.cleared);
      }, $("client-version-error"));
    });
    $("client-version-clear").addEventListener("click", (ev) => tp.act(ev.currentTarget, async () => {
      await tp.api("config", { key: "client_version", value: "" });
      input.value = "";
      dirty = false;
      tp.toast(WORDS.cleared);
    }, $("client-version-error")));
    $("ai-credits").addEventListener("change", (ev) => {
      const on = ev.currentTarget.checked;
      tp.act(null, () => tp.api("config", { key: "use_ai_credits", value: on })
        .then(() => tp.toast(on ? WORDS.creditsOn : WORDS.creditsOff)));
    });
  }

  wire();
  tp.onState((s) => {
    if (!s || !s.status) return;
    renderBanner(s.status);
    renderCard(s);
  });
})();
