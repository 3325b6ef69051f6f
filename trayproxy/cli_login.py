"""`trayproxy accounts login [--no-browser]`: Google sign-in from a terminal, with or without a
browser on this machine.

1. A LoginFlow (accounts/oauth.py) listens on 127.0.0.1:<ephemeral> for Google's redirect and
   builds the consent URL (state + PKCE).
2. With a browser here, it is opened; without one (`--no-browser`, or no display / an SSH
   session, as gemini-cli decides), the URL is printed for a browser on any machine.
3. Whichever comes first wins: the redirect reaching the loopback server, or the address the
   browser ended on pasted at the prompt (the code alone works too). A wrong paste is explained
   and asked for again; five minutes end it.
4. The refresh token goes to the target (`cli_state`): the running instance when one runs, else
   the files under the data dir's lock. The pasted text and the tokens are never echoed or logged.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import webbrowser
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["login_refresh_token", "no_browser_reason"]

TIMEOUT = 300.0
_TEXT_BROWSERS = {"www-browser", "lynx", "links", "links2", "elinks", "w3m"}


def no_browser_reason(env: dict[str, str] | None = None, platform: str | None = None) -> str | None:
    """Why a browser on this machine is unlikely to reach the person, or None."""
    env = dict(os.environ) if env is None else env
    platform = platform or sys.platform
    browser = (env.get("BROWSER") or "").strip()
    if browser:  # the person named one (Python's webbrowser runs it); www-browser is a text one
        return "BROWSER names a text browser" if os.path.basename(browser.split()[0]) in _TEXT_BROWSERS else None
    if env.get("SSH_CONNECTION") or env.get("SSH_TTY"):
        return "this is an SSH session"
    if platform.startswith("linux") and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")
                                             or env.get("MIR_SOCKET")):
        return "there is no display"
    return None


def _stdin_lines(loop: asyncio.AbstractEventLoop, stdin: TextIO) -> asyncio.Queue[str | None]:
    """Lines of stdin as they come, read by a daemon thread (a blocked read never holds up the
    exit once the browser's redirect has won); None at end of input."""
    q: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        while True:
            try:
                line = stdin.readline()
            except (OSError, ValueError):
                line = ""
            try:
                loop.call_soon_threadsafe(q.put_nowait, line if line else None)
            except RuntimeError:  # the sign-in is over and its loop closed
                return
            if not line:
                return

    threading.Thread(target=read, name="paste-reader", daemon=True).start()
    return q


def login_refresh_token(oauth_cfg: Any, *, no_browser: bool, out: TextIO = sys.stdout,
                        stdin: TextIO | None = None, open_url: Callable[[str], object] | None = None) -> str:
    """Sign in and return the new refresh token (AccountError with the reason when it fails)."""
    return asyncio.run(_login(oauth_cfg, no_browser=no_browser, out=out, stdin=stdin or sys.stdin,
                              open_url=open_url or webbrowser.open))


async def _login(oauth_cfg: Any, *, no_browser: bool, out: TextIO, stdin: TextIO,
                 open_url: Callable[[str], object]) -> str:
    from trayproxy.accounts.oauth import LoginFlow, OAuthClient, OAuthError
    from trayproxy.accounts.service import AccountError
    from trayproxy.upstream.transport import AiohttpTransport

    transport = AiohttpTransport()
    try:
        flow = LoginFlow(OAuthClient(transport, lambda: oauth_cfg, time.time))
        url = await flow.start()
        if no_browser:
            print("Open this address in a browser on any machine and sign in with Google:\n\n"
                  f"  {url}\n\n"
                  "Google then sends that browser to http://127.0.0.1:.../oauth-callback, which does not load "
                  "there (it points at this machine): that is expected. Copy the whole address from the "
                  "browser's address bar and paste it here (the code= part alone works too).", file=out, flush=True)
        else:
            print("Opening your browser to sign in with Google. If it does not open, open this address in any "
                  f"browser and paste the address it ends on here:\n  {url}", file=out, flush=True)
            # off the loop: some browser launchers wait, and the loop must answer the redirect
            threading.Thread(target=open_url, args=(url,), daemon=True).start()
        waiting = asyncio.ensure_future(flow.wait(TIMEOUT))
        lines = _stdin_lines(asyncio.get_running_loop(), stdin)
        while True:
            if no_browser:
                print("Address (or code): ", end="", file=out, flush=True)
            getter = asyncio.ensure_future(lines.get())
            done, _ = await asyncio.wait({waiting, getter}, return_when=asyncio.FIRST_COMPLETED)
            if waiting in done:
                getter.cancel()
                break
            line = getter.result()
            if line is None:  # end of input: only the browser's redirect can finish it now
                if no_browser:
                    waiting.cancel()
                    raise AccountError("No address was pasted (end of input); sign-in cancelled.")
                await asyncio.wait({waiting})
                break
            if not line.strip():
                continue
            try:
                await flow.complete(line)
            except OAuthError as e:
                if flow.finished:  # Google refused (access_denied): nothing to paste again
                    break
                print(f"trayproxy: {e}. Paste the address again, or press Ctrl-C to stop.", file=out, flush=True)
                continue
            break
        try:
            tokens = await waiting
        except OAuthError as e:
            raise AccountError(str(e)) from e
        if not tokens.refresh_token:
            raise AccountError("Google sent no refresh token; sign in again")
        return tokens.refresh_token
    finally:
        await transport.aclose()
