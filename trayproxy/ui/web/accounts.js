/* trayproxy settings page, Accounts tab: each account's state as the pool sees it, and what
 * the person can do about it.
 *
 * States (from the ControlServer's `accounts[].status`): active, cooling (whole account),
 * verify (Google wants the person to verify the account: the link, clickable), disabled (the
 * reason, who did it, what to do, a link when Google gave one) and not_onboarded. Per-model
 * cooldowns show their reason and a live countdown (ticking every second while one is shown).
 * Quota is what Google reported; "unknown" where it reported nothing.
 * Actions: Retry now, Enable/Disable, open the link, Remove.
 *
 * The list is rebuilt only when something other than the clock changed, so a pushed update
 * never swaps a button out from under the pointer; countdowns update in place.
 */
"use strict";

(function () {
  const tp = window.trayproxy;
  const h = tp.h;
  const board = () => document.getElementById("accounts-board");
  let lastKey = null;
  let skew = 0; // server clock minus this browser's clock, seconds

  const STATUS = {
    active: ["ok", "Active"],
    cooling: ["warn", "Cooling down"],
    verify: ["warn", "Needs verification"],
    disabled: ["bad", "Disabled"],
    not_onboarded: ["warn", "Not onboarded"],
  };

  function now() { return Date.now() / 1000 + skew; }

  function left(until) {
    const s = Math.max(0, Math.ceil(until - now()));
    if (s < 90) return `${s} s`;
    const m = Math.floor(s / 60), sec = s % 60;
    if (s < 3600) return `${m}:${String(sec).padStart(2, "0")}`;
    const hrs = Math.floor(s / 3600);
    if (hrs < 48) return `${hrs} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
    return `${Math.floor(hrs / 24)} d ${hrs % 24} h`;
  }

  function countdown(until, prefix) {
    return h("span", { class: "acct-countdown", "data-until": String(until), "data-prefix": prefix || "",
      text: (prefix || "") + left(until) });
  }

  // The countdowns tick once a second only while one is on screen and the page is visible:
  // an idle or hidden window runs no timer (the page otherwise waits for pushed events).
  let timer = null;
  function tick() {
    let running = 0;
    for (const el of document.querySelectorAll("#accounts-board .acct-countdown")) {
      const until = Number(el.dataset.until);
      const done = until - now() <= 0;
      el.textContent = done ? "back now" : el.dataset.prefix + left(until);
      if (!done) running += 1;
    }
    const panel = board() && board().closest("[data-panel]");
    const want = running > 0 && !document.hidden && !(panel && panel.hidden);
    if (want && timer === null) timer = setInterval(tick, 1000);
    if (!want && timer !== null) { clearInterval(timer); timer = null; }
  }

  function resetText(ts) {
    if (!ts) return "";
    const mins = Math.round((ts - now()) / 60);
    if (mins <= 0) return "resets now";
    if (mins < 60) return `resets in ${mins} min`;
    if (mins < 24 * 60) return `resets in ${Math.floor(mins / 60)} h ${mins % 60} min`;
    return "resets " + new Date(ts * 1000).toLocaleDateString([], { month: "short", day: "numeric" });
  }

  async function openLink(a, url) {
    try {
      await tp.api("accounts/open", { id: a.id });
    } catch (e) {
      window.open(url, "_blank", "noopener,noreferrer");
    }
  }

  function linkButton(a, url, text) {
    const link = h("a", { class: "btn small acct-link", href: url, target: "_blank", rel: "noreferrer noopener",
      title: url, text: (text || "Open link") + " \u2197" });
    link.addEventListener("click", (ev) => { ev.preventDefault(); openLink(a, url); });
    return link;
  }

  function retryButton(a) {
    const b = h("button", { type: "button", class: "btn small", "data-action": "retry", text: "Retry now" });
    b.addEventListener("click", () => tp.act(b, async () => {
      try {
        await tp.api("accounts/retry", { id: a.id });
        tp.toast(a.email + " checked: ready");
      } finally {
        tp.refresh();
      }
    }));
    return b;
  }

  function enableButton(a) {
    const on = a.status !== "disabled";
    const b = h("button", { type: "button", class: "btn small ghost", "data-action": on ? "disable" : "enable",
      text: on ? "Disable" : "Enable" });
    b.addEventListener("click", () => tp.act(b, () => tp.api("accounts/enable", { id: a.id, enabled: !on })
      .then(() => tp.toast((on ? "Disabled " : "Enabled ") + a.email))));
    return b;
  }

  function removeButton(a) {
    const b = h("button", { type: "button", class: "btn small danger", "data-action": "remove", "data-account": a.id,
      text: "Remove" });
    b.addEventListener("click", () => {
      if (!tp.confirmFirst(b, "Remove " + a.email + "?")) return;
      tp.act(b, () => tp.api("accounts/remove", { id: a.id }).then(() => tp.toast("Removed " + a.email)));
    });
    return b;
  }

  function stateBox(a) {
    if (a.status === "verify" && a.verify) {
      const v = a.verify;
      return h("div", { class: "acct-state warn", role: "note" },
        h("p", { class: "acct-title", text: "Google asks you to verify this account" }),
        h("p", { text: v.message || "Verify the account in a browser to keep using it." }),
        h("div", { class: "acct-actions" },
          v.url ? linkButton(a, v.url, v.text || "Verify your account") : null,
          h("span", { class: "muted", text: "Sign in as " + a.email + ", follow Google's steps, then press Retry now." })),
        v.url ? h("p", { class: "acct-url" }, h("code", { text: v.url })) : null,
        h("p", { class: "muted small" }, "Paused; tried again by itself in ", countdown(v.retry_at, ""), "."));
    }
    if (a.status === "disabled") {
      const by = a.disabled_by === "user" ? "You disabled this account." : a.disabled_by === "sign-in"
        ? "Google no longer accepts this account's sign-in." : "Google refused this account.";
      return h("div", { class: "acct-state " + (a.disabled_by === "user" ? "off" : "bad"), role: "note" },
        h("p", { class: "acct-title", text: by }),
        a.disabled_by === "user" ? null : h("p", { text: a.disabled_reason || "" }),
        h("div", { class: "acct-actions" },
          a.disabled_link ? linkButton(a, a.disabled_link, "Fix it at Google") : null,
          a.todo ? h("span", { class: "muted", text: a.todo }) : null));
    }
    if (a.status === "cooling") {
      const c = (a.cooldowns || []).find((x) => x.model === "*");
      return h("div", { class: "acct-state warn", role: "note" },
        h("p", { class: "acct-title" }, "Resting, back in ", c ? countdown(c.until, "") : "a moment"),
        c ? h("p", { text: c.reason }) : null);
    }
    if (a.status === "not_onboarded") {
      return h("div", { class: "acct-state warn", role: "note" },
        h("p", { class: "acct-title", text: "Not onboarded for Gemini Code Assist" }),
        h("p", { class: "muted", text: a.todo || "" }));
    }
    return null;
  }

  function cooldownList(a) {
    const rows = (a.cooldowns || []).filter((c) => c.model !== "*" || a.status !== "cooling");
    if (!rows.length) return null;
    return h("div", { class: "acct-cooldowns" },
      h("p", { class: "acct-sub", text: "Cooling down" }),
      rows.map((c) => h("div", { class: "acct-cd", "data-model": c.model, "data-kind": c.kind },
        h("span", { class: "model", text: c.model === "*" ? "all models" : c.model }),
        h("span", { class: "kind badge " + (c.kind === "quota" || c.kind === "rate_limit" ? "warn" : ""),
          text: c.kind.replace("_", " ") }),
        h("span", { class: "why", title: c.reason, text: c.reason }),
        countdown(c.until, "back in "))));
  }

  function quotaRows(a) {
    const models = Object.entries(a.models || {});
    if (!models.length) {
      return h("p", { class: "muted small acct-noquota", text: "Quota: unknown (Google has not reported it yet). Use Refresh quota." });
    }
    return h("div", { class: "quota" }, models.map(([name, q]) => {
      const known = q.remaining !== null && q.remaining !== undefined;
      const pct = known ? Math.round(q.remaining * 100) : null;
      const level = !known ? "unknown" : pct <= 20 ? "low" : pct <= 50 ? "mid" : "";
      return [
        h("span", { class: "model", title: name, text: name }),
        h("div", { class: "bar" + (known ? "" : " unknown"), role: "meter", "aria-label": name + " quota",
          "aria-valuenow": known ? pct : null, "aria-valuemin": 0, "aria-valuemax": 100,
          "aria-valuetext": known ? pct + "%" : "unknown" },
          h("span", { class: level, style: { width: `${known ? pct : 0}%` } })),
        h("span", { class: "pct" + (known ? "" : " unknown"), text: known ? pct + "%" : "unknown" }),
        h("span", { class: "reset", text: known ? resetText(q.reset_time) : "not reported" }),
      ];
    }));
  }

  function card(a) {
    const byUser = a.status === "disabled" && a.disabled_by === "user";
    const [cls, label] = byUser ? ["", "Disabled"] : STATUS[a.status] || ["", a.status];
    const needsRetry = a.status !== "active" || (a.cooldowns || []).length > 0;
    const tier = a.tier ? a.tier.replace(/[-_]tier$/i, "").replace(/[-_]/g, " ") : "tier unknown";
    return h("div", { class: "account acct acct-" + a.status + (byUser ? " by-user" : ""), "data-email": a.email,
      "data-status": a.status },
      h("div", { class: "account-head" },
        h("span", { class: "email", text: a.email }),
        h("span", { class: "acct-id", title: "Account id (what API clients see)", text: a.label }),
        h("span", { class: "badge", title: a.tier || "", text: tier }),
        h("span", { class: "badge status " + cls, text: label }),
        h("div", { class: "spacer" }),
        h("div", { class: "acct-buttons" },
          (needsRetry && a.status !== "disabled") || (a.status === "disabled" && a.disabled_by === "google")
            ? retryButton(a) : null,
          a.status === "disabled" && a.disabled_by === "sign-in" ? null : enableButton(a),
          removeButton(a))),
      a.onboarded_at && now() - a.onboarded_at < 24 * 3600
        ? h("p", { class: "muted small acct-onboarded", text: `Onboarded by trayproxy to ${a.tier || "the default tier"}`
          + ` on ${new Date(a.onboarded_at * 1000).toLocaleString()} (project ${a.project}).` }) : null,
      stateBox(a),
      cooldownList(a),
      a.status === "disabled" || !tp.quotaWindows ? null : tp.quotaWindows(a), // upstream.js: 5 h + weekly
      a.status === "disabled" ? null : quotaRows(a));
  }

  function render(s) {
    const el = board();
    if (!el || !s || !s.accounts) return;
    const accounts = s.accounts;
    if (accounts.length && accounts[0].now) skew = accounts[0].now - Date.now() / 1000;
    const count = document.getElementById("accounts-count");
    const attention = accounts.filter((a) => a.status === "verify" || a.status === "disabled").length;
    if (count) {
      count.textContent = accounts.length ? `(${accounts.length})` : "";
      count.classList.toggle("attention", attention > 0);
      count.title = attention ? `${attention} need${attention === 1 ? "s" : ""} your attention` : "";
    }
    const minute = Math.floor(Date.now() / 60000); // keeps "resets in N min" current
    const key = JSON.stringify([minute, accounts.map((a) => ({ ...a, now: 0,
      cooldowns: (a.cooldowns || []).map((c) => ({ ...c, left: 0 })) }))]);
    if (key === lastKey) { tick(); return; }
    lastKey = key;
    if (!accounts.length) {
      el.replaceChildren(h("div", { class: "empty" },
        h("b", { text: "No accounts yet." }), h("br"),
        "trayproxy needs at least one Google account to answer requests.", h("br"),
        h("button", { type: "button", class: "btn primary", "data-login": "", text: "Sign in with Google" })));
      tick();
      return;
    }
    el.replaceChildren(...accounts.map(card));
    tick();
  }

  tp.registerPanel("accounts", { render, show: (s) => { render(s); tick(); } });
  document.addEventListener("visibilitychange", tick);
})();
