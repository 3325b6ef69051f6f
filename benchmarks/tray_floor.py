"""The idle floor under the tray app: a bare pystray icon with a menu, nothing of trayproxy.

`python benchmarks/tray_floor.py` is pystray + GTK (pystray picks its backend as it does for
trayproxy) + Pillow drawing a 64 px icon, with GDK_GL=disable as the tray app sets it.
`--control-server` adds what the tray app's design needs besides: an asyncio loop on its own
thread serving one aiohttp.web route on 127.0.0.1 (trayproxy's ControlServer). run.py's idle
section measures both like the tray app, so "what trayproxy adds" is the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
from typing import Any


def _control_server() -> None:
    from aiohttp import web

    async def main() -> None:
        app = web.Application()

        async def ok(_: web.Request) -> web.Response:
            return web.Response(text="ok")

        app.router.add_get("/", ok)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        await asyncio.Event().wait()

    asyncio.new_event_loop().run_until_complete(main())


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--control-server", action="store_true")
    args = p.parse_args()
    os.environ.setdefault("GDK_GL", "disable")
    if args.control_server:
        threading.Thread(target=_control_server, name="engine", daemon=True).start()
    import pystray
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    ImageDraw.Draw(img).ellipse((4, 4, 60, 60), fill=(40, 160, 80, 255))

    def quit_(icon: Any, _: Any) -> None:
        icon.stop()

    menu = pystray.Menu(pystray.MenuItem("Open settings", lambda *_: None), pystray.MenuItem("Quit", quit_))
    pystray.Icon("tray-floor", img, "tray floor", menu=menu).run()


if __name__ == "__main__":
    main()
