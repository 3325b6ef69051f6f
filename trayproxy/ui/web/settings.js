/* Settings tab: the language, the proxy (port, LAN, API key requirement), the API key, start at
 * login, z.ai. The language choice saves `language` ("auto" follows the OS); the page reloads in
 * it when the pushed state says the app speaks another one (app.js), and the tray follows too.
 *
 * Every field checks itself as it is typed (trayproxy.validate), in the page's words.
 * Start at login is read from the OS (a desktop entry, a LaunchAgent, a registry value) when the
 * tab opens, not on every state change. The z.ai key is write-only: the state says only whether one is
 * set, and the input is emptied once the key is saved.
 */
"use strict";

(function () {
  const tp = window.trayproxy;
  const { h, api, t } = tp;
  const $ = (id) => document.getElementById(id);
  const FAMILIES = ["opus", "sonnet", "haiku"];
  let autostart = null; // last status from /api/autostart
  let modelsDirty = false;
  let urlOk = () => true; // the base URL field's inline check (set in wire)
  let switching = null; // the z.ai switch's new position while its two settings are saved

  // -- start at login ----------------------------------------------------------------------
  function showError(el, message) {
    el.textContent = message;
    el.hidden = !message;
  }

  function renderAutostart() {
    const sw = $("login-start");
    const hint = $("login-start-hint");
    if (!autostart) return;
    sw.disabled = false;
    sw.checked = autostart.enabled;
    const cmd = (autostart.command || []).join(" ");
    const windows = autostart.platform === "windows";
    const text = autostart.enabled
      ? (windows ? t("On: the registry value {where} starts {command}.") : t("On: the file {where} starts {command}."))
      : (windows ? t("Off. Turning it on writes the registry value {where}, which starts {command}.")
        : t("Off. Turning it on writes the file {where}, which starts {command}."));
    hint.replaceChildren(...text.split(/(\{where\}|\{command\})/).map((part) => part === "{where}"
      ? h("code", { text: autostart.path_or_key }) : part === "{command}" ? h("code", { text: cmd }) : part));
    const note = $("login-start-note");
    note.textContent = autostart.note ? autostart.note[0].toUpperCase() + autostart.note.slice(1) + "." : "";
    note.hidden = !autostart.note;
  }

  async function loadAutostart() {
    const err = $("login-start-error");
    try {
      autostart = await api("autostart");
      showError(err, "");
      renderAutostart();
    } catch (e) {
      $("login-start-hint").textContent = "";
      $("login-start").disabled = false;
      showError(err, t("Could not read the start-at-login setting: {error}", { error: e.message }));
    }
  }

  function setAutostart(on) {
    const sw = $("login-start");
    const err = $("login-start-error");
    sw.disabled = true;
    showError(err, "");
    api("autostart", { enabled: on }).then((st) => {
      autostart = st;
      tp.toast(on ? t("trayproxy will open when you log in") : t("trayproxy will not open at login"));
    }, (e) => {
      showError(err, on ? t("Could not turn on start at login: {error}", { error: e.message })
        : t("Could not turn off start at login: {error}", { error: e.message }));
    }).finally(() => {
      sw.disabled = false;
      if (autostart) renderAutostart(); else sw.checked = false;
      if (autostart && autostart.enabled !== on) sw.checked = autostart.enabled;
    });
  }

  // -- language ----------------------------------------------------------------------------
  function renderLanguage(s) {
    const select = $("language");
    const langs = window.tpI18n.languages || [];
    const options = [["auto", t("Automatic (the system's language)")], ...langs.map((l) => [l.code, l.name])];
    if (tp.changed("language-options", options)) {
      select.replaceChildren(...options.map(([v, label]) => h("option", { value: v, text: label, lang: v === "auto" ? null : v.replace("_", "-") })));
    }
    if (document.activeElement !== select) select.value = s.config.language || "auto";
    const current = langs.find((l) => l.code === s.language.lang);
    $("language-hint").textContent = s.config.language === "auto" && current
      ? t("Now: {language}, as the system says. The command line stays in English.", { language: current.name })
      : t("The command line (trayproxy …) stays in English.");
  }

  // -- proxy and API key -------------------------------------------------------------------
  let editingKey = false;

  function renderProxy(s) {
    const st = s.status, cfg = s.config;
    const port = $("port");
    if (document.activeElement !== port && port.dataset.dirty !== "1") port.value = cfg.port;
    port.disabled = st.running;
    $("port-save").disabled = st.running;
    const typed = Number(port.value);
    const shown = port.value && Number.isInteger(typed) && typed >= 1 && typed <= 65535 ? typed : cfg.port;
    $("port-hint").textContent = st.running ? t("Stop the proxy to change the port.")
      : t("Clients connect to {url}.", { url: `http://127.0.0.1:${shown}` });
    const where = s.secrets || {};
    $("key-where").textContent = where.where === "file"
      ? t("It is kept in a private file on this computer ({path}, readable only by you) because there is no system keychain.", { path: where.path })
      : t("It is kept in your system keychain.");
    const lan = $("lan");
    lan.checked = cfg.allow_lan_access;
    lan.disabled = st.running;
    $("lan-hint").textContent = (cfg.allow_lan_access
      ? t("On: other devices can connect to this computer's network address.")
      : t("Off: only programs on this computer can connect.")) + (st.running ? " " + t("Stop the proxy to change this.") : "");
    $("lan-warning").hidden = !(cfg.allow_lan_access && cfg.effective_auth_mode === "off");
    $("auto-start").checked = cfg.auto_start;
    const auth = $("auth-mode");
    if (document.activeElement !== auth) auth.value = cfg.auth_mode;
    const modes = { off: t("no key needed"), strict: t("key needed on every route"), all_except_health: t("key needed except on /health") };
    const mode = modes[cfg.effective_auth_mode] || cfg.effective_auth_mode;
    $("auth-hint").textContent = t("In effect now: {mode}.", { mode });
    if (!editingKey) $("api-key").value = s.api_key;
  }

  function wireProxy() {
    const port = $("port");
    port.addEventListener("input", () => { port.dataset.dirty = "1"; if (tp.state) renderProxy(tp.state); });
    const portOk = tp.validate(port, $("port-error"), (v) => {
      if (v === "") return t("Enter a port number, from 1 to 65535.");
      const n = Number(v);
      if (!Number.isInteger(n)) return t("The port is a whole number, from 1 to 65535.");
      if (n < 1 || n > 65535) return t("There is no port {port}: ports go from 1 to 65535.", { port: n });
      if (n < 1024) return t("Ports below 1024 need administrator rights; pick one from 1024 to 65535.");
      return "";
    }, $("port-save"));
    $("port-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const err = $("port-error");
      const n = Number(port.value);
      if (!portOk()) return;
      tp.act($("port-save"), async () => {
        await api("config", { key: "port", value: n });
        delete port.dataset.dirty;
        tp.toast(t("Port saved"));
      }, err);
    });

    $("lan").addEventListener("change", (ev) => {
      const on = ev.currentTarget.checked;
      tp.act(null, () => api("config", { key: "allow_lan_access", value: on }));
    });
    $("auto-start").addEventListener("change", (ev) => {
      const on = ev.currentTarget.checked;
      tp.act(null, () => api("config", { key: "auto_start", value: on }));
    });
    $("auth-mode").addEventListener("change", (ev) => {
      const mode = ev.currentTarget.value;
      tp.act(null, () => api("config", { key: "auth_mode", value: mode }).then(() => tp.toast(t("Saved"))));
    });

    const key = $("api-key");
    const showKey = (show) => {
      key.type = show ? "text" : "password";
      const b = $("key-show");
      b.textContent = show ? t("Hide") : t("Show");
      b.setAttribute("aria-label", show ? t("Hide the API key") : t("Show the API key"));
      b.setAttribute("aria-pressed", show ? "true" : "false");
    };
    $("key-show").addEventListener("click", () => showKey(key.type === "password"));
    const setEditing = (on) => {
      editingKey = on;
      key.readOnly = !on;
      $("key-actions").hidden = on;
      $("key-edit-actions").hidden = !on;
      $("key-error").hidden = true;
      tp.tieError(key, $("key-error"), "");
      showKey(on); // masked again once saved
      if (on) { key.focus(); key.select(); }
      if (tp.state) renderProxy(tp.state);
    };
    const keyOk = tp.validate(key, $("key-error"), (v) => {
      if (!editingKey) return "";
      if (!v.startsWith("sk-")) return t("The key must start with sk-.");
      if (/\s/.test(v)) return t("The key cannot contain spaces.");
      if (v.length < 10) return t("The key needs at least 10 characters (this one has {count}).", { count: v.length });
      return "";
    }, $("key-save"));
    $("key-edit").addEventListener("click", () => setEditing(true));
    $("key-cancel").addEventListener("click", () => setEditing(false));
    $("key-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!editingKey) return;
      const value = key.value.trim();
      const err = $("key-error");
      if (!keyOk()) return;
      tp.act($("key-save"), async () => {
        await api("key", { key: value });
        setEditing(false);
        tp.toast(t("API key saved"));
      }, err);
    });
    $("key-regenerate").addEventListener("click", (ev) => {
      const b = ev.currentTarget;
      if (!tp.confirmFirst(b, t("Click again: old key stops working"))) return;
      tp.act(b, () => api("key/regenerate", {}).then(() => tp.toast(t("New API key generated"))));
    });

  }

  // -- z.ai --------------------------------------------------------------------------------
  /* One switch: z.ai is on when it is enabled with a mode; the mode is one of the choices. */
  function zaiOn(z) { return z.enabled && z.dispatch_mode !== "off"; }

  function renderZai(s) {
    const z = s.config.zai;
    const on = switching === null ? zaiOn(z) : switching;
    $("zai-enabled").checked = on;
    const hint = $("zai-enabled-hint");
    const names = { exclusive: t("On: every Anthropic request goes to z.ai."), pooled: t("On: z.ai takes turns with your Google accounts."),
      fallback: t("On: z.ai answers when no Google account can.") };
    if (!on) hint.textContent = t("Off: your Google accounts answer everything.");
    else if (!z.key_set) hint.textContent = t("On, but no API key is set yet: paste it below, or requests sent to z.ai fail.");
    else hint.textContent = names[z.dispatch_mode] || z.dispatch_mode;
    hint.classList.toggle("warning-text", on && !z.key_set);

    $("zai-mode").disabled = !on;
    for (const r of document.querySelectorAll('input[name="zai-mode"]')) {
      r.checked = on && r.value === z.dispatch_mode;
      r.closest(".choice").classList.toggle("on", r.checked);
    }
    const where = s.secrets || {};
    $("zai-key-where").textContent = where.where === "file"
      ? t("Kept in a private file on this computer ({path}, readable only by you), because there is no system keychain.", { path: where.path })
      : t("Kept in your system keychain.");

    const state = $("zai-key-state");
    state.textContent = z.key_set ? t("set") : t("not set");
    state.className = "badge " + (z.key_set ? "ok" : "warn");
    $("zai-key-save").textContent = z.key_set ? t("Replace key") : t("Save key");
    $("zai-key").placeholder = z.key_set ? t("A key is set; paste a new one to replace it") : t("Paste your z.ai API key");
    $("zai-key-remove").hidden = !z.key_set;

    if (!modelsDirty) {
      for (const f of FAMILIES) {
        const input = $("zai-model-" + f);
        if (document.activeElement !== input) input.value = z.models[f] || "";
      }
    }

    const url = $("zai-base-url");
    if (document.activeElement !== url && url.dataset.dirty !== "1") url.value = z.base_url;
    $("zai-url-hint").textContent = z.effective_base_url !== z.base_url
      ? t("TRAYPROXY_ZAI_BASE_URL is set, so {url} is used instead.", { url: z.effective_base_url })
      : t("z.ai's Anthropic-compatible endpoint; change it only for a proxy or a test server.");
  }

  async function testConnection(button) {
    const status = $("zai-test-status");
    const list = $("zai-test-models");
    const err = $("zai-test-error");
    list.hidden = true;
    showError(err, "");
    status.textContent = t("Connecting…");
    button.disabled = true;
    try {
      const url = $("zai-base-url");
      if (url.dataset.dirty === "1" && !urlOk()) throw new Error(t("Fix the base URL first."));
      if (url.dataset.dirty === "1") { // test what is typed, not what was saved before
        try {
          await api("config", { key: "zai.base_url", value: url.value.trim() });
          delete url.dataset.dirty;
          showError($("zai-url-error"), "");
        } catch (e) {
          showError($("zai-url-error"), e.message);
          throw new Error(t("Fix the base URL first."));
        }
      }
      const res = await api("zai/test", {});
      status.textContent = res.models.length
        ? tp.tn("Connected to {url}: {n} model available.", "Connected to {url}: {n} models available.", res.models.length, { url: res.base_url })
        : t("Connected to {url}, but it lists no models.", { url: res.base_url });
      status.classList.add("ok-text");
      list.replaceChildren(...res.models.map((m) => h("li", { text: m })));
      list.hidden = !res.models.length;
      $("zai-model-options").replaceChildren(...res.models.map((m) => h("option", { value: m })));
    } catch (e) {
      status.textContent = "";
      status.classList.remove("ok-text");
      showError(err, e.message);
    } finally {
      button.disabled = false;
    }
  }

  function wire() {
    wireProxy();
    $("language").addEventListener("change", (ev) => {
      const value = ev.currentTarget.value;
      tp.act(null, () => api("config", { key: "language", value })); // the page reloads in it
    });
    $("login-start").addEventListener("change", (ev) => setAutostart(ev.currentTarget.checked));

    $("zai-enabled").addEventListener("change", (ev) => {
      const on = ev.currentTarget.checked;
      switching = on;
      tp.act(null, async () => {
        const z = tp.state.config.zai;
        try {
          // a mode first, so z.ai is never "on" with nothing to do; Fallback is the gentlest
          if (on && z.dispatch_mode === "off") await api("config", { key: "zai.dispatch_mode", value: "fallback" });
          if (z.enabled !== on) await api("config", { key: "zai.enabled", value: on });
        } finally {
          switching = null;
        }
        tp.toast(on ? t("z.ai on") : t("z.ai off"));
      });
    });
    const modeNames = { exclusive: t("Exclusive"), pooled: t("Pooled"), fallback: t("Fallback") };
    for (const r of document.querySelectorAll('input[name="zai-mode"]')) {
      r.addEventListener("change", () => {
        if (!r.checked) return;
        tp.act(null, () => api("config", { key: "zai.dispatch_mode", value: r.value }).then(() => tp.toast(t("z.ai mode: {mode}", { mode: modeNames[r.value] }))));
      });
    }

    const key = $("zai-key");
    const keyOk = tp.validate(key, $("zai-key-error"), (v) => {
      if (!v) return t("Paste the z.ai API key first.");
      if (/\s/.test(v)) return t("The key cannot contain spaces or line breaks.");
      if (v.length > 1024) return t("That is too long for a z.ai API key.");
      return "";
    }, $("zai-key-save"));
    $("zai-key-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const value = key.value.trim();
      const err = $("zai-key-error");
      if (!keyOk()) return;
      tp.act($("zai-key-save"), async () => {
        await api("zai/key", { key: value });
        key.value = "";
        tp.toast(t("z.ai key saved"));
      }, err);
    });
    $("zai-key-remove").addEventListener("click", (ev) => {
      const b = ev.currentTarget;
      if (!tp.confirmFirst(b, t("Click again to remove the key"))) return;
      tp.act(b, () => api("zai/key/remove", {}).then(() => tp.toast(t("z.ai key removed"))), $("zai-key-error"));
    });

    const modelChecks = FAMILIES.map((f) => tp.validate($("zai-model-" + f), $("zai-models-error"), (v) => {
      const name = f[0].toUpperCase() + f.slice(1);
      if (!v) return t("Enter a GLM model for {family}.", { family: name });
      if (/\s/.test(v)) return t("A model name has no spaces ({family}).", { family: name });
      return "";
    }, $("zai-models-save")));
    for (const f of FAMILIES) $("zai-model-" + f).addEventListener("input", () => { modelsDirty = true; });
    $("zai-models-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const err = $("zai-models-error");
      const models = {};
      if (!modelChecks.every((ok) => ok())) return;
      for (const f of FAMILIES) {
        const v = $("zai-model-" + f).value.trim();
        if (!v) { showError(err, t("Enter a GLM model for {family}.", { family: f[0].toUpperCase() + f.slice(1) })); return; }
        models[f] = v;
      }
      tp.act($("zai-models-save"), async () => {
        const cur = tp.state ? tp.state.config.zai.models : {};
        // families this page does not show are kept as they are
        await api("config", { key: "zai.models", value: { ...cur, ...models } });
        modelsDirty = false;
        tp.toast(t("Model map saved"));
      }, err);
    });

    const url = $("zai-base-url");
    url.addEventListener("input", () => { url.dataset.dirty = "1"; });
    urlOk = tp.validate(url, $("zai-url-error"), (v) => {
      if (!v) return t("Enter the base URL, like {example}.", { example: "https://api.z.ai/api/anthropic" });
      let u;
      try { u = new URL(v); } catch (e) { return t("The base URL must be a URL starting with http:// or https://."); }
      if (u.protocol !== "http:" && u.protocol !== "https:") return t("The base URL must be a URL starting with http:// or https://.");
      return "";
    }, $("zai-url-save"));
    $("zai-url-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!urlOk()) return;
      tp.act($("zai-url-save"), async () => {
        await api("config", { key: "zai.base_url", value: url.value.trim() });
        delete url.dataset.dirty;
        tp.toast(t("Base URL saved"));
      }, $("zai-url-error"));
    });

    $("zai-test").addEventListener("click", (ev) => testConnection(ev.currentTarget));
  }

  tp.registerPanel("settings", {
    show() { loadAutostart(); },
    render(s) {
      renderLanguage(s);
      renderProxy(s);
      renderZai(s);
      // opened straight at #settings: the tab was shown before the first state arrived
      if (!autostart && !$("login-start-hint").textContent) $("login-start-hint").textContent = t("Checking…");
      if (!autostart && !document.querySelector('[data-panel="settings"]').hidden && $("login-start-hint").dataset.asked !== "1") {
        $("login-start-hint").dataset.asked = "1";
        loadAutostart();
      }
    },
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
})();
