"""The local exchange: one aiohttp app on one loopback port, Binance and Coinbase side by side.

``async with LocalExchange(script=path) as ex:`` starts the server (port 0: a free port, read
back into :attr:`LocalExchange.port`), runs the replay script from the start and serves until
the block ends. See docs/local-exchange.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from cex.exchange.binance_ws import serve_binance
from cex.exchange.coinbase_ws import serve_coinbase
from cex.exchange.hub import Hub
from cex.exchange.market import Market
from cex.exchange.paper import PaperSettings
from cex.exchange.replay import RestScript, ScriptRunner
from cex.exchange.script import Step, load_script
from cex.exchange.settings import WsLimits
from cex.exchange.stats import ExchangeStats
from cex.exchange.symbols import DEFAULT_LIVE_SYMBOLS, DEFAULT_SYMBOLS, SymbolSpec, parse_symbols

#: A built-in REST endpoint.
Endpoint = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: A websocket route for ``/ws/<tail>`` that is not market data (a listenKey): the handler, or
#: None when ``tail`` is not one.
WsClaim = Callable[[str], Callable[[web.Request], Awaitable[web.StreamResponse]] | None]


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> web.Response:
    """A JSON answer encoded with orjson."""
    return web.Response(body=orjson.dumps(value), status=status, headers=headers,
                        content_type="application/json")


def binance_error(code: int, msg: str, status: int = 400) -> web.Response:
    """Binance's error JSON ``{"code": ..., "msg": ...}``."""
    return json_response({"code": code, "msg": msg}, status)


class LocalExchange:
    """The local exchange server (replay, paper and live modes on one port).

    Parameters
    ----------
    script : path, list of steps, or None
        A replay script (JSON Lines file, or decoded steps) run from the start.
    follow : Any
        Live mode: follow the devnet (see :mod:`cex.exchange.live`); None for none.
    port : int
        TCP port on ``host``; 0 picks a free one.
    keys : iterable of (api key, secret) pairs
        Keys the paper exchange accepts on signed endpoints (one paper account per key).
    host : str
        Address to bind (loopback by default).
    limits : WsLimits
        Websocket limits and keep-alive timing.
    symbols : str or sequence of SymbolSpec
        The symbols (``"ETHUSDT,BTCUSDT"``, or ``"ETHUSDT=WETH/USDC,..."`` in live mode);
        default :data:`~cex.exchange.symbols.DEFAULT_SYMBOLS` (live:
        :data:`~cex.exchange.symbols.DEFAULT_LIVE_SYMBOLS`).
    paper : PaperSettings
        Commission rates and starting balances of the paper accounts.
    """

    def __init__(self, script: str | Path | Iterable[Any] | None = None, follow: Any = None,
                 port: int = 0, keys: Iterable[tuple[str, str]] = (), *,
                 host: str = "127.0.0.1", limits: WsLimits | None = None,
                 symbols: str | Sequence[SymbolSpec] | None = None,
                 paper: PaperSettings | None = None) -> None:
        self.steps: list[Step] = load_script(script) if script is not None else []
        self.follow = follow
        self.host = host
        self.port = port
        self.keys = dict(keys)
        self.limits = limits or WsLimits()
        if symbols is None:
            symbols = DEFAULT_LIVE_SYMBOLS if follow is not None else DEFAULT_SYMBOLS
        specs = parse_symbols(symbols) if isinstance(symbols, str) else list(symbols)
        self.specs: dict[str, SymbolSpec] = {s.symbol: s for s in specs}
        self.paper_settings = paper or PaperSettings()
        self.stats = ExchangeStats()
        self.hub = Hub()
        self.market = Market(list(self.specs))
        self.rest_script = RestScript()
        self.runner = ScriptRunner(self.hub, self.rest_script, self.stats,
                                   on_send=self.market.observe_sent)
        self.endpoints: dict[tuple[str, str], Endpoint] = {
            ("GET", "/api/v3/time"): self._time, ("GET", "/api/v3/ping"): self._ping}
        self.ws_claims: list[WsClaim] = []
        self.components: list[Any] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._app_runner: web.AppRunner | None = None

    @property
    def script_done(self) -> asyncio.Event:
        """Set once the replay script ran to its end (at once when there is none)."""
        return self.runner.done

    def component(self, kind: type) -> Any:
        """The attached component of class ``kind`` (PaperExchange, DevnetFollower), or None."""
        return next((c for c in self.components if isinstance(c, kind)), None)

    @property
    def http_url(self) -> str:
        """``http://host:port``: the Binance REST base."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """``ws://host:port``: the Binance websocket base (``/stream``, ``/ws/...``)."""
        return f"ws://{self.host}:{self.port}"

    @property
    def coinbase_url(self) -> str:
        """``ws://host:port/coinbase``: the Coinbase Advanced Trade websocket."""
        return f"ws://{self.host}:{self.port}/coinbase"

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run ``coro`` on the server's loop until the server stops."""
        task = asyncio.ensure_future(coro)
        self._tasks.append(task)
        return task

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_get("/stream", self._binance_ws)
        app.router.add_get("/ws", self._binance_ws)
        app.router.add_get("/ws/{tail:.*}", self._binance_ws)
        app.router.add_get("/coinbase", self._coinbase_ws)
        app.router.add_route("*", "/api/{tail:.*}", self._rest)
        app.router.add_route("*", "/sapi/{tail:.*}", self._rest)
        return app

    async def __aenter__(self) -> LocalExchange:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Bind, start the components (paper, live) and the replay script."""
        from cex.exchange.components import attach_components

        await attach_components(self)
        self._app_runner = web.AppRunner(self._app(), handle_signals=False, access_log=None,
                                         max_line_size=1 << 17)
        await self._app_runner.setup()
        site = web.TCPSite(self._app_runner, self.host, self.port, reuse_address=True)
        await site.start()
        server = site._server
        if self.port == 0 and server is not None:
            sockets = getattr(server, "sockets", None) or []
            self.port = sockets[0].getsockname()[1]
        for component in self.components:
            await component.start()
        self.spawn(self.runner.run(self.steps))

    async def stop(self) -> None:
        """Stop the script and components, close every client, release the port."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for component in reversed(self.components):
            with contextlib.suppress(Exception):
                await component.stop()
        for venue in self.hub.clients:
            for client in self.hub.of(venue):
                with contextlib.suppress(Exception):
                    await client.close("shutdown", 1001, "server shutdown")
        if self._app_runner is not None:
            await self._app_runner.cleanup()
            self._app_runner = None

    async def _binance_ws(self, request: web.Request) -> web.StreamResponse:
        tail = request.match_info.get("tail", "")
        for claim in self.ws_claims:
            handler = claim(tail)
            if handler is not None:
                return await handler(request)
        return await serve_binance(request, self.hub, self.stats, self.limits)

    async def _coinbase_ws(self, request: web.Request) -> web.StreamResponse:
        return await serve_coinbase(request, self.hub, self.stats, self.limits)

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._answer(request)
        finally:
            self.stats.bump("rest", request.path)
            self.hub.changes.pulse()

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        symbol = request.query.get("symbol")
        if request.method == "GET":
            scripted = self.rest_script.take(request.path, symbol)
            if scripted is not None:
                self.market.observe_rest(request.path, symbol, scripted.json)
                return json_response(scripted.json, scripted.status, dict(scripted.headers))
        endpoint = self.endpoints.get((request.method, request.path))
        if endpoint is not None:
            return await endpoint(request)
        if symbol is not None:
            return binance_error(-1121, "Invalid symbol.")
        return binance_error(-1000, "An unknown error occurred while processing the request.")

    async def _time(self, request: web.Request) -> web.Response:
        return json_response({"serverTime": time.time_ns() // 1_000_000})

    async def _ping(self, request: web.Request) -> web.Response:
        return json_response({})
