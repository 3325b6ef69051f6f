/* trayproxy settings page, Accounts tab: each account as one line (its e-mail, a badge and the
 * line the tray says too) that opens to its reason, what to do, its buttons and its models.
 *
 * The words come with the state (`accounts[].words`, accounts/words.py, in the page's language):
 * the tray menu, notifications and `trayproxy accounts list` say the same. What to do is said with
 * this window's buttons (Retry now, Enable, Sign in with Google, the link Google gave), each
 * named with its account for a screen reader. Google's reasons are shown in full (they wrap).
 * An account that needs the person is open; the others are folded, and stay as the person left
 * them across updates.
 *
 * Calm: times are clock times ("back at 14:05") with a coarse "in 3 hr 19 min" that moves on the
 * page's minute tick; a countdown ticks each second only in its last minute, while it is on
 * screen and the page is visible. The list is rebuilt only when something other than the clock
 * changed, so a pushed update never swaps a button out from under the pointer.
 */
"use strict";

(function () {
  const tp = window.trayproxy;
  const { h, t, tn, fmt } = tp;
  const board = () => document.getElementById("accounts-board");
  const open = new Map(); // account id -> opened or folded by the person
  let lastKey = null;
  let skew = 0; // server clock minus this browser's clock, seconds
  let timer = null;

  function now() { return Date.now() / 1000 + skew; }

  /* "14:05 (in 3 hr 19 min)"; the last minute counts down in seconds */
  function when(until) {
    const left = until - now();
    if (left <= 0) return t("now");
    if (left < 60) return t("in {duration}", { duration: fmt.duration(left) });
    return t("{time} (in {duration})", { time: left < 20 * 3600 ? fmt.clock(until) : fmt.shortDate(until), duration: fmt.duration(left) });
  }

  function countdown(until) {
    return h("span", { class: "acct-countdown", "data-until": String(until), text: when(until) });
  }

  /* Seconds tick only while a countdown is in its last minute, on screen, in a visible page. */
  function tick() {
    let soon = false;
    for (const el of document.querySelectorAll("#accounts-board .acct-countdown")) {
      const until = Number(el.dataset.until);
      el.textContent = when(until);
      if (until - now() > 0 && until - now() <= 61 && el.offsetParent !== null) soon = true;
    }
    const panel = board() && board().closest("[data-panel]");
    const want = soon && !document.hidden && !(panel && panel.hidden);
    if (want && timer === null) timer = setInterval(tick, 1000);
    if (!want && timer !== null) { clearInterval(timer); timer = null; }
  }

  async function openLink(a) {
    try {
      await tp.api("accounts/open", { id: a.id });
    } catch (e) {
      window.open(a.words.link, "_blank", "noopener,noreferrer");
    }
  }

  function actionButton(a, action) {
    const w = a.words, email = a.email;
    const make = (cls, text, label, fn) => {
      const b = h("button", { type: "button", class: "btn small " + cls, "data-action": action, "data-account": a.id,
        "aria-label": label, text });
      b.addEventListener("click", () => fn(b));
      return b;
    };
    switch (action) {
      case "open_link": {
        const link = h("a", { class: "btn small acct-link", href: w.link, target: "_blank", rel: "noreferrer noopener",
          "data-action": "open_link", "aria-label": t("{link} (for {email}, opens in the browser)", { link: w.link_text, email }),
          text: w.link_text + " \u2197" });
        link.addEventListener("click", (ev) => { ev.preventDefault(); openLink(a); });
        return link;
      }
      case "retry":
        return make("", t("Retry now"), t("Retry now: {email}", { email }), (b) => tp.act(b, async () => {
          try {
            await tp.api("accounts/retry", { id: a.id });
            tp.toast(t("{email} checked: ready", { email }));
          } finally {
            tp.refresh();
          }
        }));
      case "enable":
      case "disable":
        return make("ghost", action === "enable" ? t("Enable") : t("Disable"),
          action === "enable" ? t("Enable {email}", { email }) : t("Disable {email}", { email }),
          (b) => tp.act(b, () => tp.api("accounts/enable", { id: a.id, enabled: action === "enable" })
            .then(() => tp.toast(action === "enable" ? t("Enabled {email}", { email }) : t("Disabled {email}", { email })))));
      case "sign_in":
        return h("button", { type: "button", class: "btn small primary", "data-login": "", "data-action": "sign_in",
          "aria-label": t("Sign in with Google again as {email}", { email }), text: t("Sign in with Google") });
      case "remove":
        return make("danger", t("Remove"), t("Remove {email}", { email }), (b) => {
          if (!tp.confirmFirst(b, t("Remove {email}?", { email }))) return;
          tp.act(b, () => tp.api("accounts/remove", { id: a.id }).then(() => tp.toast(t("Removed {email}", { email }))));
        });
      default:
        return null;
    }
  }

  function stateBox(a) {
    const w = a.words;
    if (!w.reason && !w.todo && !w.link) return null;
    const whole = (a.cooldowns || []).find((c) => c.model === "*");
    const verifyAgain = a.status === "verify" && a.verify && a.verify.retry_at;
    return h("div", { class: "acct-state " + w.tone, role: "note" },
      // the reason as Google (and the code that met it) said it: English, marked so (a screen
      // reader reads it as English); the line above and the to-do below are the page's words
      w.reason ? h("p", { class: "acct-reason", lang: "en", text: w.reason }) : null,
      w.todo ? h("p", { class: "acct-todo", text: w.todo }) : null,
      whole ? h("p", { class: "muted small" }, t("Back by itself:"), " ", countdown(whole.until)) : null,
      verifyAgain ? h("p", { class: "muted small" }, t("Paused; tried again by itself:"), " ", countdown(a.verify.retry_at)) : null,
      w.link ? h("p", { class: "acct-url" }, h("code", { text: w.link })) : null);
  }

  function cooldownList(a) {
    const rows = (a.cooldowns || []).filter((c) => c.model !== "*");
    if (!rows.length) return null;
    const kinds = { quota: t("quota"), rate_limit: t("rate limit") };
    return h("div", { class: "acct-cooldowns" },
      h("h3", { class: "acct-sub", text: t("Resting models") }),
      rows.map((c) => h("div", { class: "acct-cd", "data-model": c.model, "data-kind": c.kind },
        h("span", { class: "model", text: c.model }),
        h("span", { class: "kind badge " + (c.kind === "quota" || c.kind === "rate_limit" ? "warn" : ""),
          text: kinds[c.kind] || c.kind.replace(/_/g, " ") }),
        h("span", { class: "why", lang: "en", text: c.reason }),
        h("span", { class: "back" }, t("back:"), " ", countdown(c.until)))));
  }

  function resetText(ts) {
    if (!ts) return "";
    const left = ts - now();
    if (left <= 0) return t("resets now");
    return t("resets at {time}", { time: left < 20 * 3600 ? fmt.clock(ts) : fmt.shortDate(ts) });
  }

  function quotaRows(a) {
    const models = Object.entries(a.models || {});
    if (!models.length) {
      return h("p", { class: "muted small acct-noquota", text: t("Quota: unknown (Google has not reported it yet). Use Refresh quota.") });
    }
    return h("div", { class: "quota" }, models.map(([name, q]) => {
      const known = q.remaining !== null && q.remaining !== undefined;
      const pct = known ? Math.round(q.remaining * 100) : null;
      const level = !known ? "unknown" : pct <= 20 ? "low" : pct <= 50 ? "mid" : "";
      const shown = known ? fmt.percent(q.remaining) : t("unknown");
      return [
        h("span", { class: "model", title: name, text: name }),
        h("div", { class: "bar" + (known ? "" : " unknown"), role: "meter", "aria-label": t("{model} quota", { model: name }),
          "aria-valuenow": known ? pct : null, "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuetext": shown },
          h("span", { class: level, style: { width: `${known ? pct : 0}%` } })),
        h("span", { class: "pct" + (known ? "" : " unknown"), text: shown }),
        h("span", { class: "reset", text: known ? resetText(q.reset_time) : t("not reported") }),
      ];
    }));
  }

  function tierName(a) {
    return a.tier ? a.tier.replace(/[-_]tier$/i, "").replace(/[-_]/g, " ") : t("tier unknown");
  }

  function onboarded(a) {
    const tier = a.tier || t("the default tier");
    return h("p", { class: "muted small acct-onboarded", text: t("Onboarded by trayproxy to {tier} on {date} (project {project}).",
      { tier, date: fmt.datetime(a.onboarded_at), project: a.project }) });
  }

  function card(a) {
    const w = a.words;
    const attention = ["verify", "disabled", "not_eligible", "not_onboarded", "cooling"].includes(a.status)
      && !(a.status === "disabled" && a.disabled_by === "user");
    const isOpen = open.has(a.id) ? open.get(a.id) : attention;
    const details = h("details", { class: "account acct acct-" + a.status + (a.disabled_by === "user" ? " by-user" : ""),
      "data-email": a.email, "data-status": a.status, "data-id": a.id, open: isOpen },
      h("summary", { class: "account-head" },
        h("span", { class: "email", text: a.email }),
        h("span", { class: "badge status " + w.tone, text: w.badge }),
        h("span", { class: "acct-line", text: w.line === w.badge ? "" : w.line }),
        h("span", { class: "spacer" }),
        h("span", { class: "badge tier", title: a.tier || "", text: tierName(a) }),
        h("span", { class: "acct-id", title: t("Account id (what API clients see)"), text: a.label })),
      h("div", { class: "acct-body" },
        a.onboarded_at && now() - a.onboarded_at < 24 * 3600 ? onboarded(a) : null,
        stateBox(a),
        h("div", { class: "acct-actions" }, w.actions.map((x) => actionButton(a, x))),
        cooldownList(a),
        a.status === "disabled" || !tp.quotaWindows ? null : tp.quotaWindows(a), // upstream.js: 5 h + weekly
        a.status === "disabled" || a.status === "not_eligible" ? null : quotaRows(a)));
    details.addEventListener("toggle", () => { open.set(a.id, details.open); tick(); });
    return details;
  }

  function render(s) {
    const el = board();
    if (!el || !s || !s.accounts) return;
    const accounts = s.accounts;
    if (accounts.length && accounts[0].now) skew = accounts[0].now - Date.now() / 1000;
    const count = document.getElementById("accounts-count");
    const attention = accounts.filter((a) => ["verify", "not_eligible"].includes(a.status)
      || (a.status === "disabled" && a.disabled_by !== "user")).length;
    if (count) {
      count.textContent = accounts.length ? `(${fmt.number(accounts.length)})` : "";
      count.classList.toggle("attention", attention > 0);
      count.title = attention ? tn("{n} needs your attention", "{n} need your attention", attention) : "";
    }
    const summary = document.getElementById("accounts-summary");
    if (summary) {
      summary.textContent = accounts.length ? s.summary.line : "";
      summary.hidden = !accounts.length;
    }
    const key = JSON.stringify(accounts.map((a) => ({ ...a, now: 0,
      cooldowns: (a.cooldowns || []).map((c) => ({ ...c, left: 0 })) })));
    if (key === lastKey) { tick(); return; }
    lastKey = key;
    if (!accounts.length) {
      el.replaceChildren(h("div", { class: "empty" },
        h("b", { text: t("No account yet.") }), h("br"),
        t("trayproxy needs at least one Google account to answer requests: sign in below.")));
      tick();
      return;
    }
    el.replaceChildren(...accounts.map(card));
    tick();
  }

  tp.registerPanel("accounts", { render, show: (s) => { render(s); tick(); } });
  tp.on("tick", tick); // "in 3 hr 19 min" moves on with the page's minute tick
  document.addEventListener("visibilitychange", tick);
})();
