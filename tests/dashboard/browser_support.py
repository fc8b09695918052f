"""Helpers of the dashboard's browser tests: Debian's Chromium under Playwright, and a canned
dashboard server.

Playwright drives the system's ``/usr/bin/chromium`` (Debian's package, installed by ``make
install`` where apt works; ``ALPHAPULSE_CHROMIUM`` names another); ``playwright install`` is
never run and nothing is downloaded.
:func:`skip_reason` says why the browser tests cannot run here (None when they can).

:class:`CannedServer` serves the real page (``nodes/dashboard/static``) over aiohttp on a thread
of its own, with a ``/ws`` that sends canned messages of the interface in docs/dashboard.md and
records what the page posts to ``/api/stop`` and ``/api/resume``: the page's bugs show without a
mesh. Its responses carry the real server's security headers (the Content-Security-Policy
above all), so a page that breaks them fails here too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from nodes.dashboard.server import HEADERS

#: The page's files.
STATIC = Path(__file__).resolve().parents[2] / "nodes" / "dashboard" / "static"
#: Debian's Chromium (the launcher script; it finds the real binary itself).
CHROMIUM = os.environ.get("ALPHAPULSE_CHROMIUM", "/usr/bin/chromium")
#: The window every test uses (a screenshot of it has exactly this size).
VIEWPORT = {"width": 1440, "height": 1000}


def skip_reason() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which(CHROMIUM)):
        return (f"Chromium not found at {CHROMIUM} (Debian: apt-get install chromium "
                "chromium-driver; `make install` does it as root)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install -e '.[dev]')"
    return None


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (Playwright's ``Browser``), closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Page:
    """A page and the errors it raised (uncaught exceptions and console errors)."""

    page: Any
    errors: list[str] = field(default_factory=list)


@contextlib.contextmanager
def open_page(browser: Any, url: str) -> Iterator[Page]:
    """A fresh context and page at ``url`` that records the page's errors; closed on exit."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        out = Page(page)
        page.on("pageerror", lambda exc: out.errors.append(f"pageerror: {exc}"))
        page.on("console", lambda msg: out.errors.append(f"console: {msg.text}")
                if msg.type == "error" else None)
        page.goto(url, wait_until="domcontentloaded")
        yield out
    finally:
        context.close()


@web.middleware
async def _secure(request: web.Request, handler: Any) -> web.StreamResponse:
    response: web.StreamResponse = await handler(request)
    response.headers.update(HEADERS)
    return response


class CannedServer:
    """The page plus a websocket of canned messages, on a thread (a context manager).

    Each new websocket client gets ``snapshot`` in order; :meth:`push` sends one more message to
    every client; :meth:`drop_clients` sends ``dropped`` and closes them (the page must
    reconnect). POSTs to ``/api/stop`` and ``/api/resume`` are recorded in ``posts`` and answered
    200 when their bearer token is ``token``, else 401; the next ``no_answer`` of them 502 (the
    risk node did not answer).
    """

    def __init__(self, snapshot: list[dict[str, Any]], token: str) -> None:
        self.snapshot = snapshot
        self.token = token
        self.posts: list[dict[str, Any]] = []
        self.connections = 0
        self.no_answer = 0
        self._clients: set[web.WebSocketResponse] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="canned-dashboard", daemon=True)
        self._runner: web.AppRunner | None = None
        self.url = ""

    def __enter__(self) -> CannedServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        app = web.Application(middlewares=[_secure])
        app.router.add_get("/", self._index)
        app.router.add_static("/static/", STATIC)
        app.router.add_get("/ws", self._ws)
        app.router.add_post("/api/{action:stop|resume}", self._control)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/"

    async def _stop(self) -> None:
        for ws in list(self._clients):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _index(self, _request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html")

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        for msg in self.snapshot:
            await ws.send_json(msg)
        self._clients.add(ws)
        try:
            async for m in ws:
                if m.type == WSMsgType.ERROR:
                    break
        finally:
            self._clients.discard(ws)
        return ws

    async def _control(self, request: web.Request) -> web.Response:
        body = await request.text()
        self.posts.append({"action": request.match_info["action"], "body": body,
                           "authorization": request.headers.get("Authorization", "")})
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"ok": False, "error": "bad token"}, status=401)
        if self.no_answer > 0:
            self.no_answer -= 1
            return web.json_response({"ok": False, "error": "risk_no_answer"}, status=502)
        return web.json_response({"ok": True, "reply": "canned"})

    def push(self, msg: dict[str, Any]) -> None:
        """Send ``msg`` to every connected client."""
        async def send() -> None:
            for ws in list(self._clients):
                await ws.send_json(msg)
        asyncio.run_coroutine_threadsafe(send(), self._loop).result(10)

    def drop_clients(self) -> None:
        """Tell every client it is dropped and close it."""
        async def drop() -> None:
            for ws in list(self._clients):
                await ws.send_json({"type": "dropped", "reason": "canned: too slow"})
                await ws.close()
        asyncio.run_coroutine_threadsafe(drop(), self._loop).result(10)
