"""The CEX order gateway: OrderRequest in, a signed Binance order out, OrderStatus back.

Each ``OrderRequest`` is checked on the loop thread, with no network: a known venue and symbol
(``asset_id`` = ``InstrumentId.coin(BINANCE, "BASE/QUOTE")``), side, type, time in force,
positive amounts, the symbol's exchange filters (:mod:`cex.binance.filters`, from
``exchangeInfo`` read at start), the risk limits (:mod:`.risk`: quantity and notional per
order, position per symbol, the day's loss) and the stop; an ``order_id`` seen before is a
duplicate, counted and never sent again. A refused request is answered at once with a REJECTED
``OrderStatus`` (``reject_reason``: :mod:`.codes`). An accepted one is signed and sent off the
loop (:mod:`.venue` on ``rt.offload.spawn``), the stop checked again right before it is signed.
The REST answer and the user-data stream's ``executionReport`` events are folded per order
(:mod:`.orders`) into ``OrderStatus`` frames: NEW, PARTIALLY_FILLED, FILLED, CANCELLED, EXPIRED
or REJECTED with the venue's error code. When an emergency stop latches, open orders are
cancelled (``cancel_on_stop``).

Paper by default: the endpoints are the local exchange's, and its keys are used
(docs/cex-gateway.md); ``mode = "live"`` is the one line to the real venue. Keys come from the
environment or a 0600 file and never reach a log line or a frame.
"""

from __future__ import annotations

import concurrent.futures
import functools
import time
from collections import Counter
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from alphapulse.errors import AlphaPulseError
from cex.binance.filters import SymbolRules
from cex.binance.rest import (
    BinanceError,
    RateLimited,
    UnknownOutcome,
    VenueTimeout,
    VenueUnreachable,
)
from cex.binance.signing import ApiKeyError, load_credentials, mask, order_id_of
from mesh.protocol import OrderRequest, OrderStatus
from mesh.protocol.constants import SourceType, TimeInForce
from nodes.cex_gateway.admit import check_order, check_request
from nodes.cex_gateway.codes import OrderReject, from_binance
from nodes.cex_gateway.metrics import GatewayCollector
from nodes.cex_gateway.orders import Order, Report, refusal
from nodes.cex_gateway.risk import DailyLoss, Ticker, marks_of
from nodes.cex_gateway.settings import CONFIG, parse_settings
from nodes.cex_gateway.venue import Halted, Venue
from nodes.runtime import Contract, Node

if TYPE_CHECKING:
    from mesh.pubsub import Delivery
    from nodes.runtime.runtime import NodeRuntime

__all__ = ["CexGatewayNode"]

_RETRY_S = 2.0
_FAILURES: tuple[tuple[type[AlphaPulseError], OrderReject], ...] = (
    (Halted, OrderReject.HALTED), (RateLimited, OrderReject.RATE_LIMITED),
    (VenueTimeout, OrderReject.TIMEOUT), (UnknownOutcome, OrderReject.TIMEOUT),
    (VenueUnreachable, OrderReject.UNREACHABLE))


class CexGatewayNode(Node):
    """Sign OrderRequests into Binance orders; report them as OrderStatus."""

    CONTRACT = Contract(
        kind="cex-gateway",
        role="Signs OrderRequests into Binance orders (paper: the local exchange) under the "
             "executor's risk limits; reports OrderStatus.",
        source=SourceType.EXECUTION_ENGINE,
        consumes=(OrderRequest,),
        produces=(OrderStatus,),
        obeys_stop=True,
        config=CONFIG,
    )

    def __init__(self, rt: NodeRuntime) -> None:
        super().__init__(rt)
        self.s = parse_settings(rt.settings)  # a bad setting fails before any socket opens

    def on_start(self) -> None:
        """Load the keys and connect (retried until the venue answers)."""
        self.counts: Counter[str] = Counter()
        self.venue: Venue | None = None
        self.rules: dict[str, SymbolRules] | None = None
        self.stream_up = False
        self.seen: set[int] = set()
        self.orders: dict[int, Order] = {}
        self.open: dict[int, Order] = {}
        self.by_client: dict[str, Order] = {}
        self.positions: Counter[str] = Counter()
        self.tickers: dict[str, Ticker] = {}
        self.last_fill: dict[str, int] = {}
        self.loss = DailyLoss(self.s.limits.max_daily_loss_q8)
        self._next_try = 0.0
        self._starting = False
        self._was_halted = False
        self._cancelling: set[int] = set()
        self._logged: set[str] = set()
        if self.rt.metrics is not None:
            self.rt.metrics.registry.register(GatewayCollector(self.rt.name, self, self._gauges))
        self._connect()

    # -- start-up --------------------------------------------------------------------------

    def _connect(self) -> None:
        try:
            creds = load_credentials(self.s.key_file or None, key_env=self.s.api_key_env,
                                     secret_env=self.s.api_secret_env)
        except ApiKeyError as exc:
            self._count(exc.kind)
            self._warn_once("keys", "cex-gateway: %s (retrying)", exc)
            self._next_try = time.monotonic() + _RETRY_S
            return
        self.venue = Venue(self.s, creds, self.rt.offload.post, self.rt.halted, self.rt.log)
        self._starting = True
        self.rt.log.info("cex-gateway: %s mode, %s as %s, symbols %s", self.s.mode,
                         self.s.rest_url, mask(creds.api_key),
                         ",".join(c.symbol for c in self.s.symbols.values()))
        self.rt.offload.spawn(self.venue.start(self._user_event, self._valuation, self._stream),
                              on_done=self._started)

    def _started(self, future: Future[dict[str, SymbolRules]]) -> None:
        self._starting = False
        try:
            rules = future.result()
        except AlphaPulseError as exc:
            self._count(f"start_{exc.kind}")
            self._warn_once("start", "cex-gateway: cannot start: %s (retrying)", exc)
            if self.venue is not None:
                self.rt.offload.spawn(self.venue.close())
            self.venue, self._next_try = None, time.monotonic() + _RETRY_S
            return
        missing = {c.symbol for c in self.s.symbols.values()} - set(rules)
        if missing:
            self.rt.log.warning("cex-gateway: the venue does not list %s", sorted(missing))
        self.rules = rules
        self.rt.log.info("cex-gateway: rules of %s loaded", sorted(rules))

    @property
    def ready(self) -> bool:
        """Rules loaded, the user-data stream connected once, the day's loss measurable."""
        return self.rules is not None and self.stream_up and \
            self.loss.refusal() != OrderReject.NOT_READY

    # -- requests --------------------------------------------------------------------------

    def on_frame(self, delivery: Delivery) -> None:
        """Admit each OrderRequest of the frame (or refuse it) and send it off the loop."""
        for tlv in delivery.frame.messages:
            if isinstance(tlv, OrderRequest):
                self._request(tlv)

    def _request(self, req: OrderRequest) -> None:
        if req.order_id in self.seen:
            self._count("duplicate")
            self.rt.stats.error("duplicate_order")
            return  # the first request's statuses own this order id
        self.seen.add(req.order_id)
        admitted = self._admit(req)
        if isinstance(admitted, OrderReject):
            self._count(f"refused_{admitted.name.lower()}")
            self.rt.publish(refusal(req.order_id, req.quantity, admitted))
            return
        order = admitted
        self.orders[order.order_id] = self.open[order.order_id] = order
        self.by_client[order.client_id] = order
        assert self.venue is not None
        self._count("sent")
        self.rt.offload.spawn(self.venue.place(order, TimeInForce(req.time_in_force)),
                              on_done=functools.partial(self._placed, order))

    def _admit(self, req: OrderRequest) -> Order | OrderReject:
        """The order to send, or why not (:mod:`.admit`; nothing here waits)."""
        if self.rt.halted():
            return OrderReject.HALTED
        cfg = check_request(req, self.s.symbols)
        if isinstance(cfg, OrderReject):
            return cfg
        rules = self.rules.get(cfg.symbol) if self.rules is not None else None
        if rules is None or not self.ready:
            return OrderReject.NOT_READY
        return check_order(req, cfg, rules, limits=self.s.limits,
                           ticker=self.tickers.get(cfg.symbol),
                           position_q8=self.positions[cfg.symbol],
                           open_orders=self.open.values(), loss=self.loss)

    # -- answers ---------------------------------------------------------------------------

    def _placed(self, order: Order, future: Future[Report]) -> None:
        try:
            report = future.result()
        except BinanceError as exc:
            self._count(f"binance_{-exc.code}" if exc.code else "binance_http")
            self.rt.log.warning("cex-gateway: order %d rejected: %s", order.order_id, exc)
            self._reject(order, from_binance(exc.code or 0))
            return
        except AlphaPulseError as exc:
            reason = next((r for cls, r in _FAILURES if isinstance(exc, cls)),
                          OrderReject.SEND_FAILED)
            self._count(f"failed_{reason.name.lower()}")
            self.rt.log.warning("cex-gateway: order %d not placed: %s", order.order_id, exc)
            self._reject(order, reason)
            return
        self._fold(order, report)

    def _reject(self, order: Order, reason: OrderReject) -> None:
        order.rejected(reason)
        self.open.pop(order.order_id, None)
        self._publish(order)

    def _fold(self, order: Order, report: Report) -> None:
        unpriced = order.unpriced_fees
        delta = order.fold(report)
        if order.unpriced_fees > unpriced:
            self._count("fee_other_asset")
        if report.fills:
            self.last_fill[order.symbol] = report.fills[-1].price_q8
        if delta:
            self.positions[order.symbol] += delta
            self._count("fills")
            if self.venue is not None:
                self.venue.poke()
        if order.final:
            self.open.pop(order.order_id, None)
        elif self.rt.halted() and self.s.cancel_on_stop:
            self._cancel(order)
        self._publish(order)

    def _publish(self, order: Order) -> None:
        msg = order.status_message()
        if msg is not None:
            self.rt.publish(msg)

    def _user_event(self, doc: Any) -> None:
        """An event of the user-data stream (loop thread)."""
        if not isinstance(doc, dict):
            self._count("user_event_malformed")
            return
        if doc.get("e") != "executionReport":
            return  # outboundAccountPosition, balanceUpdate: the valuation reads balances
        order = None
        for key in ("C", "c"):
            cid = doc.get(key)
            if isinstance(cid, str) and order_id_of(cid) is not None:
                order = self.by_client.get(cid)
                if order is not None:
                    break
        if order is None:
            self._count("user_event_foreign")
            return
        try:
            report = Report.from_execution_report(doc, order.base, order.quote)
        except AlphaPulseError as exc:
            self._count(f"user_event_{exc.kind}")
            return
        self._fold(order, report)

    def _stream(self, up: bool) -> None:
        """The user-data stream connected (catch up on open orders) or dropped."""
        self.stream_up = self.stream_up or up
        if up and self.venue is not None:
            for order in list(self.open.values()):
                if order.venue_order_id:
                    self.rt.offload.spawn(
                        self.venue.rest.query_order(order.symbol, order.client_id),
                        on_done=functools.partial(self._queried, order))

    def _queried(self, order: Order, future: Future[dict[str, Any]]) -> None:
        try:
            report = Report.from_rest(future.result(), order.base, order.quote)
        except AlphaPulseError as exc:
            self._count(f"query_{exc.kind}")
            return
        self._fold(order, report)

    def _valuation(self, balances: dict[str, int] | None, tickers: Any) -> None:
        """Balances and book tickers arrived (or the valuation failed: ``tickers`` its kind)."""
        if balances is None:
            self._count(f"valuation_{tickers}")
            return
        self.tickers = tickers
        pairs = [(c.symbol, c.base, c.quote) for c in self.s.symbols.values()]
        marks = marks_of(tickers, pairs, self.s.cash, self.last_fill)
        was = self.loss.refusal()
        unpriced = self.loss.observe(balances, marks, time.time())
        if unpriced:
            self._count("valuation_unpriced")
            self._warn_once("unpriced", "cex-gateway: %s changed and no configured symbol prices "
                                        "them in cash: the day's loss is not updated", unpriced)
        if self.loss.refusal() == OrderReject.DAILY_LOSS and was != OrderReject.DAILY_LOSS:
            self.rt.log.warning("cex-gateway: the day's loss %d reached the limit %d (x 1e8): "
                                "no new orders today", self.loss.loss_q8, self.loss.limit_q8)

    # -- stops -----------------------------------------------------------------------------

    def on_tick(self, now_ns: int) -> int:
        """Retry the start; cancel open orders when a stop latches."""
        if self.venue is None and not self._starting and time.monotonic() >= self._next_try:
            self._connect()
            return 1
        halted = self.rt.halted()
        if halted and not self._was_halted and self.s.cancel_on_stop:
            for order in list(self.open.values()):
                self._cancel(order)
        self._was_halted = halted
        return 0

    def _cancel(self, order: Order) -> None:
        if order.order_id in self._cancelling or not order.venue_order_id or self.venue is None:
            return
        self._cancelling.add(order.order_id)
        self._count("cancel_sent")
        self.rt.offload.spawn(self.venue.cancel(order),
                              on_done=functools.partial(self._cancelled, order))

    def _cancelled(self, order: Order, future: Future[Report]) -> None:
        self._cancelling.discard(order.order_id)
        try:
            report = future.result()
        except AlphaPulseError as exc:
            self._count(f"cancel_{exc.kind}")
            self.rt.log.warning("cex-gateway: cancel of order %d: %s", order.order_id, exc)
            return
        self._fold(order, report)

    def on_stop(self) -> None:
        """Close the user-data stream's key and the client; log what the node did."""
        self.rt.log.info("cex-gateway: %s; %d open", dict(self.counts), len(self.open))
        if self.venue is not None:
            done = self.rt.offload.spawn(self.venue.close())
            try:
                done.result(timeout=3)
            except (concurrent.futures.TimeoutError, AlphaPulseError):
                self._count("close_timeout")

    # -- bookkeeping -----------------------------------------------------------------------

    def _count(self, what: str) -> None:
        self.counts[what] += 1

    def _warn_once(self, key: str, fmt: str, *args: Any) -> None:
        if key not in self._logged:
            self._logged.add(key)
            self.rt.log.warning(fmt, *args)

    def _gauges(self) -> dict[str, float]:
        return {"ready": float(self.ready), "open_orders": float(len(self.open)),
                "daily_loss": (self.loss.loss_q8 or 0) / 1e8}
