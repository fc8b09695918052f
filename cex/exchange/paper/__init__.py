"""The paper exchange: Binance's signed spot endpoints, filling against the server's book.

Endpoints (Binance's paths, parameters, answers and error JSON): ``/api/v3/exchangeInfo``,
``/api/v3/order`` (POST new, GET query, DELETE cancel), ``/api/v3/openOrders``,
``/api/v3/account``, ``/api/v3/userDataStream`` (POST/PUT/DELETE) and the user-data websocket
``/ws/<listenKey>``. See docs/local-exchange.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from cex.exchange.paper import reject
from cex.exchange.paper.accounts import DEFAULT_BALANCES, Account
from cex.exchange.paper.auth import api_key, params_of, verify
from cex.exchange.paper.engine import Engine
from cex.exchange.paper.info import exchange_info
from cex.exchange.paper.orders import q8
from cex.exchange.paper.params import parse_new_order
from cex.exchange.paper.userdata import UserData
from cex.exchange.symbols import SymbolSpec

if TYPE_CHECKING:
    from cex.exchange.server import LocalExchange


@dataclass(frozen=True)
class PaperSettings:
    """Settings of the paper exchange.

    Attributes
    ----------
    taker_rate, maker_rate : int
        Commission rates x 1e8 (0.001 = 100_000, Binance's default 0.1 %).
    balances : Mapping[str, int]
        Free balance per asset (x 1e8) every account starts with.
    """

    taker_rate: int = 100_000
    maker_rate: int = 100_000
    balances: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_BALANCES))


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class PaperExchange:
    """The paper exchange attached to a :class:`LocalExchange`."""

    def __init__(self, ex: LocalExchange, specs: Mapping[str, SymbolSpec],
                 settings: PaperSettings) -> None:
        from cex.exchange.server import binance_error, json_response

        self._error, self._json = binance_error, json_response
        self.ex = ex
        self.specs = specs
        self.accounts = {key: Account(settings.balances) for key in ex.keys}
        self.userdata = UserData(ex.hub, ex.stats)
        self.engine = Engine(specs, ex.market, self.accounts, settings.taker_rate,
                             settings.maker_rate, self.userdata.publish)
        routes: dict[tuple[str, str], Handler] = {
            ("GET", "/api/v3/exchangeInfo"): self.exchange_info,
            ("GET", "/api/v3/ticker/bookTicker"): self.book_ticker,
            ("POST", "/api/v3/order"): self.new_order,
            ("GET", "/api/v3/order"): self.query_order,
            ("DELETE", "/api/v3/order"): self.cancel_order,
            ("GET", "/api/v3/openOrders"): self.open_orders,
            ("GET", "/api/v3/account"): self.account,
            ("POST", "/api/v3/userDataStream"): self.listen_key_new,
            ("PUT", "/api/v3/userDataStream"): self.listen_key_keep,
            ("DELETE", "/api/v3/userDataStream"): self.listen_key_close,
        }
        for route, handler in routes.items():
            ex.endpoints[route] = self._guarded(handler)
        ex.ws_claims.append(self.userdata.claim)

    async def start(self) -> None:
        """Nothing to start: the paper exchange answers requests."""

    async def stop(self) -> None:
        """Nothing to stop."""

    def _guarded(self, handler: Handler) -> Handler:
        async def run(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except reject.Reject as exc:
                return self._error(exc.code, exc.msg, exc.status)
        return run

    async def _signed(self, request: web.Request) -> tuple[str, dict[str, str]]:
        body = await request.text() if request.can_read_body else ""
        return verify(request.rel_url.raw_query_string, body, request.headers, self.ex.keys)

    def _symbol(self, params: Mapping[str, str]) -> str:
        symbol = params.get("symbol", "")
        if not symbol:
            raise reject.missing("symbol")
        if symbol not in self.specs or self.specs[symbol].coinbase:
            raise reject.bad_symbol()
        return symbol

    def _order_ref(self, params: Mapping[str, str]) -> tuple[int | None, str | None]:
        order_id, client_id = params.get("orderId") or None, params.get("origClientOrderId") or None
        if order_id is None and client_id is None:
            raise reject.Reject(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, "
                                       "but both were empty/null!")
        if order_id is not None and not order_id.isdigit():
            raise reject.illegal("orderId")
        return (int(order_id) if order_id is not None else None), client_id

    async def exchange_info(self, request: web.Request) -> web.StreamResponse:
        """GET /api/v3/exchangeInfo (all symbols, or ``symbol``)."""
        symbol = request.query.get("symbol")
        if symbol is not None:
            self._symbol({"symbol": symbol})
        names = [symbol] if symbol else [s for s, spec in self.specs.items() if not spec.coinbase]
        return self._json(exchange_info([self.specs[n] for n in names]))

    async def book_ticker(self, request: web.Request) -> web.StreamResponse:
        """GET /api/v3/ticker/bookTicker of one symbol, from the server's book (live mode
        replaces it with the published book's)."""
        symbol = self._symbol(request.query)
        book = self.ex.market.book(symbol)
        assert book is not None
        (bp, bq), (ap, aq) = book.bids.best() or (0, 0), book.asks.best() or (0, 0)
        return self._json({"symbol": symbol, "bidPrice": q8(bp), "bidQty": q8(bq),
                           "askPrice": q8(ap), "askQty": q8(aq)})

    async def new_order(self, request: web.Request) -> web.StreamResponse:
        """POST /api/v3/order."""
        key, params = await self._signed(request)
        new = parse_new_order(params, self.specs)
        order = self.engine.place(key, new)
        return self._json(order.new_answer(new.resp_type))

    async def query_order(self, request: web.Request) -> web.StreamResponse:
        """GET /api/v3/order."""
        key, params = await self._signed(request)
        symbol = self._symbol(params)
        order = self.engine.find(key, symbol, *self._order_ref(params))
        if order is None:
            raise reject.no_such_order()
        return self._json(order.query_answer())

    async def cancel_order(self, request: web.Request) -> web.StreamResponse:
        """DELETE /api/v3/order."""
        key, params = await self._signed(request)
        symbol = self._symbol(params)
        order = self.engine.find(key, symbol, *self._order_ref(params))
        if order is None:
            raise reject.unknown_order()
        return self._json(self.engine.cancel(order, params.get("newClientOrderId") or None))

    async def open_orders(self, request: web.Request) -> web.StreamResponse:
        """GET /api/v3/openOrders (one symbol or all)."""
        key, params = await self._signed(request)
        symbol = self._symbol(params) if "symbol" in params else None
        return self._json([o.query_answer() for o in self.engine.open_orders(key, symbol)])

    async def account(self, request: web.Request) -> web.StreamResponse:
        """GET /api/v3/account."""
        key, _ = await self._signed(request)
        acct = self.accounts[key]
        maker, taker = self.engine.maker_rate, self.engine.taker_rate
        return self._json({
            "makerCommission": maker * 10_000 // 100_000_000,
            "takerCommission": taker * 10_000 // 100_000_000,
            "buyerCommission": 0, "sellerCommission": 0,
            "commissionRates": {"maker": q8(maker), "taker": q8(taker), "buyer": q8(0),
                                "seller": q8(0)},
            "canTrade": True, "canWithdraw": False, "canDeposit": False, "brokered": False,
            "requireSelfTradePrevention": False, "preventSor": False,
            "updateTime": acct.update_ms, "accountType": "SPOT",
            "balances": acct.balances(), "permissions": ["SPOT"], "uid": 0})

    def _listen_key(self, request: web.Request, query: Mapping[str, str]) -> str:
        key = api_key(request.headers, self.ex.keys)
        listen = query.get("listenKey", "")
        if not listen:
            raise reject.missing("listenKey")
        if self.userdata.by_key.get(listen) != key:
            raise reject.bad_listen_key()
        return listen

    async def listen_key_new(self, request: web.Request) -> web.StreamResponse:
        """POST /api/v3/userDataStream."""
        key = api_key(request.headers, self.ex.keys)
        return self._json({"listenKey": self.userdata.create(key)})

    async def listen_key_keep(self, request: web.Request) -> web.StreamResponse:
        """PUT /api/v3/userDataStream."""
        self._listen_key(request, await self._params(request))
        return self._json({})

    async def listen_key_close(self, request: web.Request) -> web.StreamResponse:
        """DELETE /api/v3/userDataStream."""
        self.userdata.delete(self._listen_key(request, await self._params(request)))
        return self._json({})

    async def _params(self, request: web.Request) -> dict[str, str]:
        body = await request.text() if request.can_read_body else ""
        return params_of(request.rel_url.raw_query_string, body)


