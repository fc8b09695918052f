"""The dashboard's web side: aiohttp routes, the websocket fan-out, stop/resume, metrics.

Everything here runs on one asyncio loop. The mesh side (:mod:`nodes.dashboard.reader`) runs
on threads and wakes the loop through its inbox; the loop folds events into the state
(:mod:`nodes.dashboard.state`) and fans the deltas out (:mod:`nodes.dashboard.fanout`), which
never waits on a client. Stop and resume block on ZeroMQ for up to their timeout, so they run
in the default executor.

Security model (docs/dashboard.md): loopback by default; every request's ``Host`` must name
this server (no DNS rebinding); POSTs and the websocket refuse another ``Origin``; stop and
resume need ``Authorization: Bearer <token>`` (``RUN_DIR/dashboard.token``, compared in
constant time); nothing secret is ever sent to the page. Every refusal is a typed error with a
``kind``, counted in ``dashboard_errors_total{kind}`` and answered as JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import WSMsgType, web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from alphapulse.errors import ConfigError
from mesh.cli.control import NoAnswer, raise_stop, release_stop
from mesh.config import MeshConfig
from nodes.dashboard.errors import (
    BadBody,
    BadMethod,
    BadOrigin,
    BadToken,
    BodyTooLarge,
    DashboardError,
    NotFound,
    ReaderDied,
    RiskNoAnswer,
)
from nodes.dashboard.fanout import CLIENT_QUEUE, Hub
from nodes.dashboard.metrics import DashboardMetrics
from nodes.dashboard.reader import Inbox, MeshReader
from nodes.dashboard.state import DashboardState
from nodes.dashboard.token import token_matches

STATIC = Path(__file__).resolve().parent / "static"
#: Largest POST body accepted (a reason of 64 bytes fits many times over).
MAX_BODY = 4096
#: Seconds between ``nodes`` messages (at most 2/s) and mesh-counter refreshes.
NODES_PERIOD = 0.5
#: Seconds stop and resume wait for the risk node.
CONTROL_TIMEOUT = 5.0
#: Longest stop reason (the EmergencyStop field).
MAX_REASON = 64

HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self' 'unsafe-inline'; connect-src 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

STATE_KEY: web.AppKey[Dashboard] = web.AppKey("dashboard")


@dataclass
class Settings:
    """How one dashboard runs."""

    cfg: MeshConfig
    token: str
    host: str = "127.0.0.1"
    port: int = 0
    risk_node: str = "risk"
    queue_size: int = CLIENT_QUEUE
    ring_namespaces: tuple[str, ...] = ()
    control_timeout: float = CONTROL_TIMEOUT
    symbols: dict[str, str] | None = None
    #: Extra names the ``Host`` header may carry (``--allow-host``), without the port.
    extra_hosts: tuple[str, ...] = ()
    allowed_hosts: set[str] = field(default_factory=set)


class Dashboard:
    """State, clients and the mesh reader of one running dashboard."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        cfg = settings.cfg
        self.metrics = DashboardMetrics()
        self.state = DashboardState(cfg.ring_namespace, Path(cfg.run_dir).name,
                                    tuple(cfg.nodes))
        self.hub = Hub(self.metrics, settings.queue_size)
        self.reader: MeshReader | None = None
        self.inbox: Inbox | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining = False
        self._ticker: asyncio.Task[None] | None = None
        self.control_lock = asyncio.Lock()
        #: Set when a mesh reader thread died: the command exits 1 and supervisord restarts it.
        self.failed = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, app: web.Application) -> None:
        """Start the mesh reader and the ticker (aiohttp ``on_startup``)."""
        self._loop = asyncio.get_running_loop()
        self.inbox = Inbox(self._wake)
        self.reader = MeshReader(self.settings.cfg, self.inbox,
                                 ring_namespaces=self.settings.ring_namespaces,
                                 symbols=self.settings.symbols)
        self.reader.start()
        self._ticker = self._loop.create_task(self._tick())

    async def stop(self, app: web.Application) -> None:
        """Close clients, the ticker and the reader (aiohttp ``on_shutdown``)."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        await self.hub.close_all()
        if self.reader is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.reader.close)

    def _wake(self) -> None:
        """From a reader thread: schedule a drain on the loop."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        """Fold a budget of inbox events in and fan them out; come back for the rest."""
        assert self.inbox is not None
        # a quarter of a client queue per turn: between turns every client's sender runs, so a
        # burst of events only drops the clients that really do not read
        events = self.inbox.take(max(1, self.settings.queue_size // 4))
        apply, out = self.state.apply, []
        for kind, payload in events:
            out.extend(apply(kind, payload))
        self.hub.broadcast(out)
        if len(self.inbox) and self._loop is not None:
            self._loop.call_soon(self._drain)

    async def _tick(self) -> None:
        while True:
            self.hub.broadcast([self.state.nodes_msg()])
            self._refresh_mesh_metrics()
            if self.reader is not None and self.reader.failure is not None:
                self.failed.set()
            await asyncio.sleep(NODES_PERIOD)

    def mesh_counters(self) -> dict[str, int]:
        """The mesh side's counters: what the subscriber and ring readers saw and lost."""
        r = self.reader
        if r is None:
            return {}
        s = r.stats
        out = {"frames_in": s.frames_in, "gaps": s.gaps, "missed": s.missed, "drops": s.drops,
               "recovered": s.recovered, "duplicates": s.duplicates,
               "subscriber_errors": s.error_total, "ring_frames": r.ring_frames,
               "ring_lost": r.ring_lost, "reader_errors": sum(r.errors.values()),
               "inbox_dropped": self.inbox.dropped if self.inbox is not None else 0,
               "events": self.inbox.put_total if self.inbox is not None else 0,
               "reader_alive": int(r.alive())}
        return out

    def _refresh_mesh_metrics(self) -> None:
        for k, v in self.mesh_counters().items():
            self.metrics.mesh.labels(k).set(v)

    def refuse(self, exc: DashboardError) -> web.Response:
        """Count ``exc`` by kind and answer it as JSON."""
        self.metrics.errors.labels(exc.kind).inc()
        return web.json_response({"ok": False, "error": exc.kind, "message": str(exc)},
                                 status=exc.status, headers=HEADERS)


# -- request checks ------------------------------------------------------------------------------


def check_host(request: web.Request, allowed: set[str]) -> None:
    """The ``Host`` header must name this server (a rebound DNS name is refused)."""
    if request.host not in allowed:
        raise BadOrigin(f"Host {request.host[:80]!r} is not this dashboard")


def check_origin(request: web.Request, allowed: set[str]) -> None:
    """A browser's ``Origin`` (when sent) must be this server's own."""
    origin = request.headers.get("Origin")
    if origin is not None and origin not in {f"http://{h}" for h in allowed}:
        raise BadOrigin(f"Origin {origin[:80]!r} is not this dashboard")
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        raise BadOrigin("a cross-site request")


async def read_reason(request: web.Request, default: str) -> str:
    """The optional ``{"reason": "..."}`` body (at most :data:`MAX_BODY` bytes)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise BodyTooLarge(f"body of {request.content_length} bytes; at most {MAX_BODY}")
    try:
        body = await request.content.read(MAX_BODY + 1)
    except (ConnectionError, asyncio.IncompleteReadError) as exc:
        raise BadBody(f"body could not be read: {exc}") from None
    if len(body) > MAX_BODY:
        raise BodyTooLarge(f"body over {MAX_BODY} bytes")
    if not body.strip():
        return default
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadBody("body is not JSON") from None
    if not isinstance(doc, dict) or set(doc) - {"reason"}:
        raise BadBody('body must be an object {"reason": "..."} (reason optional)')
    reason = doc.get("reason", default)
    if not isinstance(reason, str):
        raise BadBody("reason must be a string")
    reason = reason.strip() or default
    if len(reason.encode()) > MAX_REASON:
        raise BadBody(f"reason is longer than {MAX_REASON} bytes")
    if not reason.isprintable():
        raise BadBody("reason holds control characters")
    return reason


# -- handlers ---------------------------------------------------------------------------------


def _dash(request: web.Request) -> Dashboard:
    return request.app[STATE_KEY]


async def index(request: web.Request) -> web.StreamResponse:
    """``GET /``: the page."""
    page = STATIC / "index.html"
    if not page.is_file():
        raise NotFound("the page is not installed (nodes/dashboard/static/index.html)")
    return web.FileResponse(page, headers=HEADERS)


async def api_state(request: web.Request) -> web.Response:
    """``GET /api/state``: the snapshot as one object, with the mesh side's counters."""
    d = _dash(request)
    body = d.state.snapshot()
    body["mesh"] = d.mesh_counters()
    body["mesh_errors"] = dict(d.reader.errors) if d.reader is not None else {}
    body["clients"] = len(d.hub.clients)
    return web.Response(body=orjson.dumps(body), content_type="application/json",
                        headers=HEADERS)


async def metrics(request: web.Request) -> web.Response:
    """``GET /metrics``: the dashboard's own counters (Prometheus text)."""
    d = _dash(request)
    d._refresh_mesh_metrics()
    resp = web.Response(body=generate_latest(d.metrics.registry), headers=HEADERS)
    resp.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return resp


async def _control(request: web.Request, action: str) -> web.Response:
    d = _dash(request)
    check_origin(request, d.settings.allowed_hosts)
    if not token_matches(d.settings.token, request.headers.get("Authorization")):
        raise BadToken("missing or wrong token (Authorization: Bearer <RUN_DIR/dashboard.token>)")
    reason = await read_reason(request, "operator stop from the dashboard")
    cfg, node, timeout = d.settings.cfg, d.settings.risk_node, d.settings.control_timeout
    loop = asyncio.get_running_loop()
    async with d.control_lock:  # one stop or resume at a time
        try:
            if action == "stop":
                stop_id, reply = await loop.run_in_executor(
                    None, raise_stop, cfg, node, reason, timeout)
                body: dict[str, Any] = {"ok": reply.startswith(b"OK"), "stop_id": str(stop_id),
                                        "kill_flag": True}
            else:
                reply = await loop.run_in_executor(None, release_stop, cfg, node, timeout)
                body = {"ok": reply.startswith(b"OK"), "kill_flag": False}
        except NoAnswer as exc:
            raise RiskNoAnswer(f"{exc}; kill flag "
                               f"{'set' if action == 'stop' else 'left set'}") from None
        except ConfigError as exc:
            raise BadBody(str(exc)) from None
    body["reply"] = reply.decode(errors="replace")
    if not body["ok"]:
        body["error"] = "risk_refused"
        d.metrics.errors.labels("risk_refused").inc()
    return web.json_response(body, status=200 if body["ok"] else 502, headers=HEADERS)


async def api_stop(request: web.Request) -> web.Response:
    """``POST /api/stop``: kill flag, then the latched stop on the risk node."""
    return await _control(request, "stop")


async def api_resume(request: web.Request) -> web.Response:
    """``POST /api/resume``: release the latch on the risk node, then clear the kill flag."""
    return await _control(request, "resume")


async def ws_handler(request: web.Request) -> web.StreamResponse:
    """``GET /ws``: the snapshot, then deltas, until either side closes."""
    d = _dash(request)
    check_origin(request, d.settings.allowed_hosts)
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=4096)
    await ws.prepare(request)
    _small_send_buffer(request)
    client = d.hub.add(ws, request.transport, d.state.snapshot_messages())
    try:
        async for msg in ws:  # the page sends nothing; anything it sends is ignored
            if msg.type == WSMsgType.ERROR:
                break
            d.metrics.errors.labels("ws_input").inc()
    finally:
        d.hub.remove(client)
    return ws


def _small_send_buffer(request: web.Request) -> None:
    """Bound what the kernel buffers for one client (64 KiB), so a stalled client shows up
    as a full queue soon instead of after megabytes."""
    import socket

    sock = request.transport.get_extra_info("socket") if request.transport else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 16)


# -- the app ------------------------------------------------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def refusals(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Host check on every request; typed errors (ours and aiohttp's) to counted JSON."""
    d = _dash(request)
    d.metrics.requests.labels(request.match_info.route.resource.canonical
                              if request.match_info.route.resource else "none").inc()
    try:
        check_host(request, d.settings.allowed_hosts)
        return await handler(request)
    except DashboardError as exc:
        return d.refuse(exc)
    except web.HTTPMethodNotAllowed as exc:
        return d.refuse(BadMethod(f"{request.method} is not allowed on {request.path[:80]}; "
                                  f"use {', '.join(sorted(exc.allowed_methods))}"))
    except web.HTTPNotFound:
        return d.refuse(NotFound(f"no such path {request.path[:80]!r}"))
    except web.HTTPRequestEntityTooLarge:
        return d.refuse(BodyTooLarge("body too large"))


def allowed_hosts(host: str, port: int, extra: tuple[str, ...] = ()) -> set[str]:
    """``Host`` values that name a server listening on ``host:port``: the address itself, the
    loopback names for a loopback or wildcard bind, and ``extra`` names."""
    names = {f"[{host}]" if ":" in host else host, *extra}
    if host in ("127.0.0.1", "::1", "0.0.0.0", "::"):
        names |= {"127.0.0.1", "localhost", "[::1]"}
    return {f"{n}:{port}" for n in names}


def make_app(settings: Settings) -> web.Application:
    """The aiohttp application of one dashboard (its mesh reader starts with the app)."""
    app = web.Application(middlewares=[refusals], client_max_size=MAX_BODY)
    dash = Dashboard(settings)
    app[STATE_KEY] = dash
    app.on_startup.append(dash.start)
    app.on_shutdown.append(dash.stop)
    app.router.add_get("/", index)
    app.router.add_get("/ws", ws_handler)
    app.router.add_get("/api/state", api_state)
    app.router.add_post("/api/stop", api_stop)
    app.router.add_post("/api/resume", api_resume)
    app.router.add_get("/metrics", metrics)
    if STATIC.is_dir():
        app.router.add_static("/static", STATIC, follow_symlinks=False)
    return app


async def serve(settings: Settings, ready: Callable[[int], None],
                stop: asyncio.Event) -> None:
    """Run the dashboard until ``stop`` is set; ``ready(port)`` once it listens."""
    app = make_app(settings)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            raise ConfigError(f"cannot listen on {settings.host}:{settings.port}: "
                              f"{exc.strerror or exc}") from None
        port = int(runner.addresses[0][1]) if runner.addresses else settings.port
        settings.allowed_hosts = allowed_hosts(settings.host, port, settings.extra_hosts)
        ready(port)
        dash = app[STATE_KEY]
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(dash.failed.wait())]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()
        if dash.failed.is_set() and dash.reader is not None:
            raise ReaderDied(f"a mesh reader thread died: {dash.reader.failure!r}")
    finally:
        await runner.cleanup()
