"""Binance's signed REST API, asynchronously: orders, the user-data stream key, time, rules.

:class:`BinanceRest` is an aiohttp client for the endpoints the order gateway needs
(docs/cex-gateway.md): ``POST/GET/DELETE /api/v3/order`` (new order, query, cancel),
``GET /api/v3/openOrders``, ``GET /api/v3/account``, ``POST/PUT/DELETE /api/v3/userDataStream``
(listen key create, keepalive, close), ``GET /api/v3/time``, ``GET /api/v3/exchangeInfo``,
``GET /api/v3/ticker/bookTicker`` and ``GET /api/v3/depth``. Every parameter travels in the query string (no body), signed
by :mod:`cex.binance.signing` with a fresh ``timestamp`` for every attempt.

What a request can end in, each a typed error counted in :attr:`BinanceRest.stats`:

- the answer's JSON (an object or a list);
- :class:`BinanceError`: Binance's error JSON ``{"code": -1013, "msg": "..."}``, with ``code``,
  ``msg`` and the HTTP status. A ``-1021`` (timestamp outside ``recvWindow``) first re-reads the
  server's clock and tries once more;
- :class:`RateLimited`: HTTP 429 (rate limit) or 418 (IP ban). The client then sends nothing
  until the ``Retry-After`` header's seconds have passed (1 s when the header is missing, as for
  the order-count limit); a wait up to ``max_wait_s`` is slept and the request tried again,
  a longer one refuses at once (no request is sent while backing off);
- :class:`VenueTimeout` (no answer within ``timeout_s``), :class:`VenueUnreachable` (no
  connection) and :class:`UnknownOutcome` (HTTP 5xx): for an order the outcome is then unknown,
  and the caller asks for the order by its client id before deciding.

The clock: ``timestamp`` is the local wall clock plus an offset measured against
``GET /api/v3/time`` (half the round trip assumed on each side), re-measured every
``resync_s`` and after a ``-1021``, so requests stay inside ``recvWindow`` on a drifting host.

Thread-safety: one instance belongs to one asyncio event loop (the node's offload loop).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

import aiohttp
import orjson

from cex.binance.signing import Credentials, Param, query_string, signed_query
from cex.errors import BadJson, VenueRejected

__all__ = ["BinanceError", "BinanceRest", "RateLimited", "RestStats", "UnknownOutcome",
           "VenueTimeout", "VenueUnreachable"]

#: The code Binance answers when ``timestamp`` is outside ``recvWindow``.
TIMESTAMP_OUTSIDE_WINDOW = -1021
_DEFAULT_RETRY_AFTER_S = 1.0


class BinanceError(VenueRejected):
    """Binance's error JSON: ``code`` (negative, errors.md), ``msg`` and the HTTP ``status``."""

    kind = "binance_error"

    def __init__(self, code: int, msg: str, status: int) -> None:
        super().__init__(f"Binance {code}: {msg} (HTTP {status})", code=code, status=status)
        self.msg = msg


class RateLimited(VenueRejected):
    """HTTP 429 or 418: nothing is sent until ``retry_after_s`` seconds have passed."""

    kind = "rate_limited"

    def __init__(self, message: str, *, status: int, retry_after_s: float) -> None:
        super().__init__(message, status=status)
        self.retry_after_s = retry_after_s


class VenueTimeout(VenueRejected):
    """No answer within the timeout: the request's outcome is unknown."""

    kind = "timeout"


class VenueUnreachable(VenueRejected):
    """No connection to the venue (refused, reset, DNS): the request was not processed, or its
    outcome is unknown if the connection broke after sending."""

    kind = "unreachable"


class UnknownOutcome(VenueRejected):
    """HTTP 5xx: Binance says the execution status is unknown (it may have succeeded)."""

    kind = "unknown_outcome"


@dataclass(slots=True)
class RestStats:
    """Counters of one client (read from the loop thread: ints and Counters, no locks needed).

    Attributes
    ----------
    requests : Counter
        Requests sent, by ``METHOD path``.
    errors : Counter
        Failed requests by error kind (``binance_error``, ``rate_limited``, ``timeout`` ...).
    codes : Counter
        Binance error codes seen.
    rate_limited : int
        429 and 418 answers.
    backoff_waits : int
        Requests that slept through a ``Retry-After`` before being sent.
    backoff_refusals : int
        Requests refused unsent because the back-off was longer than ``max_wait_s``.
    time_syncs : int
        Clock offset measurements.
    used_weight : dict
        The last ``X-MBX-USED-WEIGHT-*`` and ``X-MBX-ORDER-COUNT-*`` header values.
    """

    requests: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    codes: Counter[int] = field(default_factory=Counter)
    rate_limited: int = 0
    backoff_waits: int = 0
    backoff_refusals: int = 0
    time_syncs: int = 0
    used_weight: dict[str, int] = field(default_factory=dict)


def _retry_after(headers: Any) -> float:
    raw = headers.get("Retry-After")
    try:
        return max(0.0, float(raw)) if raw is not None else _DEFAULT_RETRY_AFTER_S
    except ValueError:
        return _DEFAULT_RETRY_AFTER_S


class BinanceRest:
    """A client of Binance's signed REST API (see the module docstring).

    Parameters
    ----------
    base_url : str
        ``https://api.binance.com``, or the local exchange's ``http://127.0.0.1:PORT``.
    credentials : Credentials
        API key (header ``X-MBX-APIKEY``) and secret (signatures).
    recv_window_ms : int
        ``recvWindow`` of signed requests (Binance's maximum is 60 000).
    timeout_s : float
        Total time a request may take.
    max_wait_s : float
        Longest ``Retry-After`` slept through before trying again; longer ones refuse at once.
    resync_s : float
        Re-measure the clock offset this often (0: only at :meth:`open` and after ``-1021``).
    wall_ms : callable
        The local wall clock in ms (tests move it).
    """

    def __init__(self, base_url: str, credentials: Credentials, *, recv_window_ms: int = 5000,
                 timeout_s: float = 10.0, max_wait_s: float = 2.0, resync_s: float = 300.0,
                 wall_ms: Callable[[], int] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._creds = credentials
        self.recv_window_ms = recv_window_ms
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.max_wait_s = max_wait_s
        self.resync_s = resync_s
        self._wall_ms = wall_ms or (lambda: time.time_ns() // 1_000_000)
        self.offset_ms = 0
        self._synced_at = float("-inf")
        self._blocked_until = 0.0
        self.stats = RestStats()
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"BinanceRest({self.base_url!r}, {self._creds!r})"

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self, *, sync_time: bool = True) -> Self:
        """Open the HTTP session and measure the clock offset."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        if sync_time:
            await self.sync_time()
        return self

    async def close(self) -> None:
        """Close the HTTP session (idempotent)."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- clock -----------------------------------------------------------------------------

    def timestamp_ms(self) -> int:
        """The server's time now, as far as this client knows (``timestamp`` of a request)."""
        return self._wall_ms() + self.offset_ms

    async def sync_time(self) -> int:
        """Measure the server clock's offset from ours (``GET /api/v3/time``); return it, ms."""
        before = self._wall_ms()
        doc = await self._send("GET", "/api/v3/time", (), signed=False, api_key=False)
        after = self._wall_ms()
        server = doc.get("serverTime") if isinstance(doc, dict) else None
        if type(server) is not int:
            raise BadJson(f"/api/v3/time answered {doc!r}")
        self.offset_ms = server - (before + after) // 2
        self._synced_at = time.monotonic()
        self.stats.time_syncs += 1
        return self.offset_ms

    # -- endpoints -------------------------------------------------------------------------

    async def exchange_info(self) -> dict[str, Any]:
        """``GET /api/v3/exchangeInfo`` (every symbol's status and filters)."""
        return await self._object("GET", "/api/v3/exchangeInfo", (), signed=False, api_key=False)

    async def book_ticker(self, symbol: str) -> dict[str, Any]:
        """``GET /api/v3/ticker/bookTicker`` of one symbol (best bid and ask)."""
        return await self._object("GET", "/api/v3/ticker/bookTicker", [("symbol", symbol)],
                                  signed=False, api_key=False)

    async def depth(self, symbol: str, limit: int = 5) -> dict[str, Any]:
        """``GET /api/v3/depth`` of one symbol (the top ``limit`` levels)."""
        return await self._object("GET", "/api/v3/depth", [("symbol", symbol),
                                                           ("limit", str(limit))],
                                  signed=False, api_key=False)

    async def account(self) -> dict[str, Any]:
        """``GET /api/v3/account`` (balances), signed."""
        return await self._object("GET", "/api/v3/account", (), signed=True)

    async def new_order(self, params: Sequence[Param], *,
                        guard: Callable[[], None] | None = None) -> dict[str, Any]:
        """``POST /api/v3/order`` with :func:`cex.binance.signing.order_params`, signed.

        ``guard`` is called right before each attempt is signed and sent (after any back-off
        or clock resync): it raises to stop the order (an emergency stop latched meanwhile).
        """
        return await self._object("POST", "/api/v3/order", params, signed=True, guard=guard)

    async def query_order(self, symbol: str, client_id: str) -> dict[str, Any]:
        """``GET /api/v3/order`` by ``origClientOrderId``, signed."""
        return await self._object("GET", "/api/v3/order",
                                  [("symbol", symbol), ("origClientOrderId", client_id)],
                                  signed=True)

    async def cancel_order(self, symbol: str, client_id: str) -> dict[str, Any]:
        """``DELETE /api/v3/order`` by ``origClientOrderId``, signed."""
        return await self._object("DELETE", "/api/v3/order",
                                  [("symbol", symbol), ("origClientOrderId", client_id)],
                                  signed=True)

    async def open_orders(self, symbol: str) -> list[Any]:
        """``GET /api/v3/openOrders`` of one symbol, signed."""
        doc = await self._send("GET", "/api/v3/openOrders", [("symbol", symbol)], signed=True)
        if not isinstance(doc, list):
            raise BadJson(f"/api/v3/openOrders answered a {type(doc).__name__}")
        return doc

    async def new_listen_key(self) -> str:
        """``POST /api/v3/userDataStream``: a user-data stream's listen key (API key only)."""
        doc = await self._object("POST", "/api/v3/userDataStream", (), signed=False)
        key = doc.get("listenKey")
        if not isinstance(key, str) or not key:
            raise BadJson("/api/v3/userDataStream answered no listenKey")
        return key

    async def keepalive_listen_key(self, listen_key: str) -> None:
        """``PUT /api/v3/userDataStream``: keep the stream alive another 60 minutes."""
        await self._send("PUT", "/api/v3/userDataStream", [("listenKey", listen_key)],
                         signed=False)

    async def close_listen_key(self, listen_key: str) -> None:
        """``DELETE /api/v3/userDataStream``: close the stream."""
        await self._send("DELETE", "/api/v3/userDataStream", [("listenKey", listen_key)],
                         signed=False)

    # -- the request -----------------------------------------------------------------------

    async def _object(self, method: str, path: str, params: Sequence[Param], *, signed: bool,
                      api_key: bool = True, guard: Callable[[], None] | None = None
                      ) -> dict[str, Any]:
        doc = await self._send(method, path, params, signed=signed, api_key=api_key,
                               guard=guard)
        if not isinstance(doc, dict):
            raise BadJson(f"{path} answered a {type(doc).__name__}, not an object")
        return doc

    async def _send(self, method: str, path: str, params: Sequence[Param], *, signed: bool,
                    api_key: bool = True, guard: Callable[[], None] | None = None) -> Any:
        """One request, tried again after a short back-off or a clock resync (module doc)."""
        if signed and self.resync_s > 0 and time.monotonic() - self._synced_at > self.resync_s:
            await self.sync_time()
        for attempt in range(3):
            await self._respect_backoff(path)
            try:
                if guard is not None:
                    guard()
                return await self._attempt(method, path, params, signed, api_key)
            except RateLimited as exc:
                if exc.retry_after_s > self.max_wait_s or attempt == 2:
                    raise
            except BinanceError as exc:
                if exc.code != TIMESTAMP_OUTSIDE_WINDOW or not signed or attempt > 0:
                    raise
                await self.sync_time()
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    async def _respect_backoff(self, path: str) -> None:
        wait = self._blocked_until - time.monotonic()
        if wait <= 0:
            return
        if wait > self.max_wait_s:
            self.stats.backoff_refusals += 1
            self.stats.errors["rate_limited"] += 1
            raise RateLimited(f"{path}: backing off {wait:.1f} s more (Retry-After)",
                              status=429, retry_after_s=wait)
        self.stats.backoff_waits += 1
        await asyncio.sleep(wait)

    async def _attempt(self, method: str, path: str, params: Sequence[Param], signed: bool,
                       api_key: bool) -> Any:
        if self._session is None:
            raise VenueUnreachable(f"{path}: the client is not open")
        query = signed_query(params, self._creds.secret, timestamp_ms=self.timestamp_ms(),
                             recv_window_ms=self.recv_window_ms) if signed \
            else query_string(params)
        url = f"{self.base_url}{path}" + (f"?{query}" if query else "")
        headers = {"X-MBX-APIKEY": self._creds.api_key} if api_key or signed else {}
        self.stats.requests[f"{method} {path}"] += 1
        try:
            async with self._session.request(method, url, headers=headers) as resp:
                status, body = resp.status, await resp.read()
                self._note_headers(resp.headers)
                retry_after = _retry_after(resp.headers)
        except TimeoutError:
            self.stats.errors["timeout"] += 1
            raise VenueTimeout(f"{method} {path}: no answer within "
                               f"{self.timeout.total} s") from None
        except aiohttp.ClientError as exc:
            self.stats.errors["unreachable"] += 1
            raise VenueUnreachable(f"{method} {path}: {type(exc).__name__}") from None
        return self._answer(method, path, status, body, retry_after)

    def _answer(self, method: str, path: str, status: int, body: bytes,
                retry_after: float) -> Any:
        if status in (418, 429):
            self.stats.rate_limited += 1
            self.stats.errors["rate_limited"] += 1
            self._blocked_until = max(self._blocked_until, time.monotonic() + retry_after)
            raise RateLimited(f"{method} {path}: HTTP {status}, Retry-After {retry_after:g} s",
                              status=status, retry_after_s=retry_after)
        if status >= 500:
            self.stats.errors["unknown_outcome"] += 1
            raise UnknownOutcome(f"{method} {path}: HTTP {status}", status=status)
        try:
            doc = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            self.stats.errors["bad_json"] += 1
            raise BadJson(f"{method} {path}: HTTP {status}, not JSON") from None
        if isinstance(doc, dict) and type(doc.get("code")) is int and "msg" in doc and (
                status >= 400 or doc["code"] < 0):
            self.stats.errors["binance_error"] += 1
            self.stats.codes[doc["code"]] += 1
            raise BinanceError(doc["code"], str(doc["msg"]), status)
        if status >= 400:
            self.stats.errors["binance_error"] += 1
            raise BinanceError(0, f"HTTP {status} without Binance's error JSON", status)
        return doc

    def _note_headers(self, headers: Any) -> None:
        for name, value in headers.items():
            upper = name.upper()
            if upper.startswith(("X-MBX-USED-WEIGHT-", "X-MBX-ORDER-COUNT-")):
                try:
                    self.stats.used_weight[upper] = int(value)
                except ValueError:
                    continue
