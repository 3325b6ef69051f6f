/* trayproxy settings page: its words in the person's language, from the app's own gettext
 * catalogs (trayproxy/i18n): GET /api/i18n answers the compiled catalog of the language the app
 * speaks (the Settings choice, or the OS's), as JSON. There is no second dictionary here: a
 * message id is the English text, as in the tray's Python code, and English needs no catalog.
 *
 * - t(msgid, fields) and tn(singular, plural, n, fields): "{name}" fields; tn picks the form with
 *   the catalog's own plural rule (a gettext C expression, read by a small parser: the page's
 *   CSP allows no eval), and "{n}" is n formatted for the locale. say(message) says a message
 *   the server composed in words of the catalog (i18n/message.py: { msgid, fields }).
 * - index.html: an element with data-i18n is one message (its text, whitespace collapsed, child
 *   elements written {0}, {1}, ... and kept where the translation puts them); data-i18n-attr
 *   lists attributes (title, aria-label, placeholder) whose values are messages. The same rules
 *   extract them into the catalog (trayproxy/i18n/extract.py).
 * - fmt: numbers, percentages, times, dates and durations with Intl in the catalog's locale,
 *   the same CLDR formats the tray gets from Babel.
 * The page stays invisible until it is translated (html[data-i18n-pending]); window.tpI18n.ready
 * resolves then, and app.js starts after it.
 */
"use strict";

(function () {
  let catalog = { lang: "en", html_lang: "en", plural: "(n != 1)", messages: {}, languages: [] };
  let pluralFn = (n) => (n !== 1 ? 1 : 0);
  const cache = {};

  // -- plural rule: a gettext C expression (n, numbers, ?: || && == != < <= > >= + - * / % ! ()) --
  function compilePlural(src) {
    const tokens = src.match(/\d+|n|\|\||&&|==|!=|<=|>=|[-+*/%<>!?:()]/g) || [];
    let i = 0;
    const peek = () => tokens[i];
    const next = () => tokens[i++];
    const BIN = { "||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, "<=": 4, ">": 4, ">=": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6 };
    const ops = {
      "||": (a, b) => (a || b ? 1 : 0), "&&": (a, b) => (a && b ? 1 : 0), "==": (a, b) => (a === b ? 1 : 0),
      "!=": (a, b) => (a !== b ? 1 : 0), "<": (a, b) => (a < b ? 1 : 0), "<=": (a, b) => (a <= b ? 1 : 0),
      ">": (a, b) => (a > b ? 1 : 0), ">=": (a, b) => (a >= b ? 1 : 0), "+": (a, b) => a + b, "-": (a, b) => a - b,
      "*": (a, b) => a * b, "/": (a, b) => Math.trunc(a / b), "%": (a, b) => a % b,
    };
    function unary() {
      const tok = next();
      if (tok === "!") { const e = unary(); return (n) => (e(n) ? 0 : 1); }
      if (tok === "-") { const e = unary(); return (n) => -e(n); }
      if (tok === "(") { const e = ternary(); next(); return e; }
      if (tok === "n") return (n) => n;
      const v = Number(tok);
      if (Number.isNaN(v)) throw new Error("bad plural rule: " + src);
      return () => v;
    }
    function binary(minPrec) {
      let left = unary();
      while (BIN[peek()] && BIN[peek()] >= minPrec) {
        const op = next();
        const right = binary(BIN[op] + 1);
        const l = left, f = ops[op];
        left = (n) => f(l(n), right(n));
      }
      return left;
    }
    function ternary() {
      const cond = binary(1);
      if (peek() !== "?") return cond;
      next();
      const a = ternary();
      next(); // ":"
      const b = ternary();
      return (n) => (cond(n) ? a(n) : b(n));
    }
    const fn = ternary();
    return (n) => Number(fn(n)) || 0;
  }

  // -- messages ----------------------------------------------------------------------------
  function fill(text, fields) {
    if (!fields) return text;
    return text.replace(/\{(\w+)\}/g, (m, k) => (k in fields && fields[k] !== undefined && fields[k] !== null ? String(fields[k]) : m));
  }

  function t(msgid, fields) {
    const tr = catalog.messages[msgid];
    return fill(typeof tr === "string" && tr ? tr : msgid, fields);
  }

  /* A message the server composed but did not say (i18n/message.py's Message.to_dict():
     { msgid, fields }, a field may be such a message in turn), said in the page's language. */
  function say(m) {
    if (!m || typeof m !== "object") return m === undefined || m === null ? "" : String(m);
    const fields = {};
    for (const [k, v] of Object.entries(m.fields || {})) fields[k] = typeof v === "object" && v ? say(v) : v;
    return t(m.msgid, fields);
  }

  function tn(singular, plural, n, fields) {
    const forms = catalog.messages[singular];
    let text;
    if (Array.isArray(forms) && forms.length) text = forms[Math.min(pluralFn(n), forms.length - 1)] || singular;
    else text = n === 1 ? singular : plural;
    return fill(text, Object.assign({ n: fmt.number(n) }, fields || {}));
  }

  // -- formats (Intl, the catalog's locale) --------------------------------------------------
  function nf(key, opts) {
    const k = key + JSON.stringify(opts || {});
    if (!cache[k]) cache[k] = new Intl.NumberFormat(catalog.html_lang, opts);
    return cache[k];
  }
  function df(opts) {
    const k = "d" + JSON.stringify(opts);
    if (!cache[k]) cache[k] = new Intl.DateTimeFormat(catalog.html_lang, opts);
    return cache[k];
  }
  const unit = (v, u) => nf("u", { style: "unit", unit: u, unitDisplay: "short" }).format(v);

  const fmt = {
    number: (n) => nf("n").format(Number(n) || 0),
    percent: (f) => nf("p", { style: "percent", maximumFractionDigits: 0 }).format(f),
    /* 1234 -> "1.2K" / "1234" / "1234": compact, for tiles and totals (the exact number is in the title) */
    compact: (n) => nf("c", { notation: "compact", maximumFractionDigits: 1 }).format(Number(n) || 0),
    clock: (ts) => df({ hour: "2-digit", minute: "2-digit" }).format(new Date(ts * 1000)),
    date: (ts) => df({ dateStyle: "medium" }).format(new Date(ts * 1000)),
    shortDate: (ts) => df({ month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }).format(new Date(ts * 1000)),
    datetime: (ts) => df({ dateStyle: "medium", timeStyle: "medium" }).format(new Date(ts * 1000)),
    /* Like the tray's Translator.duration: "45 sec", "12 min", "3 hr 19 min", "2 days 4 hr". */
    duration(seconds) {
      const s = Math.max(0, Math.ceil(seconds));
      if (s < 90) return unit(s, "second");
      if (s < 5400) return unit(Math.ceil(s / 60), "minute");
      if (s < 48 * 3600) {
        const hrs = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
        return m ? t("{hours} {minutes}", { hours: unit(hrs, "hour"), minutes: unit(m, "minute") }) : unit(hrs, "hour");
      }
      const d = Math.floor(s / 86400), hrs = Math.floor((s % 86400) / 3600);
      return hrs ? t("{days} {hours}", { days: unit(d, "day"), hours: unit(hrs, "hour") }) : unit(d, "day");
    },
    /* a request's time: "350 ms", "2.35 s", "1 min 5 s" */
    ms(ms) {
      if (ms === null || ms === undefined) return "";
      if (ms < 1000) return unit(Math.round(ms), "millisecond");
      if (ms < 60000) return nf("s", { style: "unit", unit: "second", unitDisplay: "short", maximumFractionDigits: ms < 10000 ? 2 : 1 }).format(ms / 1000);
      const s = Math.round(ms / 1000);
      return t("{minutes} {seconds}", { minutes: unit(Math.floor(s / 60), "minute"), seconds: unit(s % 60, "second") });
    },
    /* "5 min ago", "2 hr ago", "yesterday" */
    ago(seconds) {
      const rtf = cache.rtf || (cache.rtf = new Intl.RelativeTimeFormat(catalog.html_lang, { numeric: "auto", style: "short" }));
      if (seconds < 60) return rtf.format(0, "second");
      if (seconds < 3600) return rtf.format(-Math.floor(seconds / 60), "minute");
      return rtf.format(-Math.floor(seconds / 3600), "hour");
    },
  };

  // -- the page's static text ----------------------------------------------------------------
  function messageOf(el) {
    const parts = [];
    const kids = [];
    for (const node of el.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) parts.push(node.nodeValue);
      else if (node.nodeType === Node.ELEMENT_NODE) { parts.push("{" + kids.length + "}"); kids.push(node); }
    }
    return [parts.join("").replace(/\s+/g, " ").trim(), kids];
  }

  function translateDom(root) {
    for (const el of (root || document).querySelectorAll("[data-i18n]")) {
      const [msgid, kids] = messageOf(el);
      const tr = catalog.messages[msgid];
      if (!msgid || typeof tr !== "string" || !tr) continue;
      if (!kids.length) { el.textContent = tr; continue; }
      const out = [];
      for (const piece of tr.split(/(\{\d+\})/)) {
        const m = /^\{(\d+)\}$/.exec(piece);
        if (m && kids[Number(m[1])]) out.push(kids[Number(m[1])]);
        else if (piece) out.push(document.createTextNode(piece));
      }
      el.replaceChildren(...out);
    }
    for (const el of (root || document).querySelectorAll("[data-i18n-attr]")) {
      for (const name of el.getAttribute("data-i18n-attr").split(",").map((s) => s.trim())) {
        const v = el.getAttribute(name);
        if (v) el.setAttribute(name, t(v.replace(/\s+/g, " ").trim()));
      }
    }
  }

  function apply(data) {
    catalog = data;
    try { pluralFn = compilePlural(data.plural || "(n != 1)"); } catch (e) { console.error(e); }
    for (const k of Object.keys(cache)) delete cache[k];
    document.documentElement.lang = data.html_lang || "en";
    translateDom(document);
  }

  async function load() {
    const meta = document.querySelector('meta[name="trayproxy-token"]');
    const token = meta ? meta.content : "";
    if (!token) return;
    try {
      const resp = await fetch("/api/i18n", { headers: { "X-Trayproxy-Token": token } });
      if (resp.ok) apply(await resp.json());
    } catch (e) { /* the app is gone: English it is; app.js says it is not connected */ }
  }

  const ready = new Promise((resolve) => {
    const go = () => load().finally(() => {
      document.documentElement.removeAttribute("data-i18n-pending");
      resolve();
    });
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", go);
    else go();
  });

  window.tpI18n = {
    t, tn, say, fmt, ready, translateDom, compilePlural,
    get lang() { return catalog.lang; },
    get languages() { return catalog.languages; },
  };
})();
