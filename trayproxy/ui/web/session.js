/* trayproxy settings page: where the control token lives between page loads.
 *
 * The ControlServer never puts the token in a cookie (browsers send 127.0.0.1's cookies to every
 * port). The page arrives with the token in its <meta> tag only when it was opened by the app
 * (GET /?token=... from the settings window, or the browser launcher's form POST); this script
 * keeps it in sessionStorage, which only this origin (scheme, host and port) can read, takes it
 * out of the address bar, and fills the <meta> tag on a plain reload, before app.js reads it.
 * It runs as a classic script in <head>, ahead of the deferred page scripts.
 */
(function () {
  "use strict";
  const KEY = "trayproxy-control-token";
  const meta = document.querySelector('meta[name="trayproxy-token"]');
  if (!meta) return;
  try {
    if (meta.content) sessionStorage.setItem(KEY, meta.content);
    else meta.content = sessionStorage.getItem(KEY) || "";
  } catch (e) { /* storage disabled: the token lasts for this load only */ }
  if (location.search || location.pathname !== "/") history.replaceState(null, "", "/" + location.hash);
  if (!meta.content) {
    document.addEventListener("DOMContentLoaded", function () {
      const p = document.createElement("p");
      p.className = "no-session";
      p.style.margin = "3rem auto";  // CSSOM, allowed by the page's CSP (inline style attributes are not)
      p.style.maxWidth = "36rem";
      p.style.textAlign = "center";
      p.style.fontFamily = "system-ui, sans-serif";
      p.textContent = "Open the settings from the trayproxy menu (this page needs the per-launch token).";
      document.body.replaceChildren(p);
    });
  }
})();
