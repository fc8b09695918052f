"""The gateway's test kit: a paper exchange with a known book, a key file, a running node."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cex.exchange import serve_in_thread
from cex.exchange.script import Rest
from cex.exchange.threaded import ThreadedExchange
from cex.fixed import parse_q8
from mesh.protocol import InstrumentId, OrderRequest, OrderStatus
from mesh.protocol.constants import AssetType, OrderSide, OrderType, TimeInForce, VenueId
from nodes.runtime.testing import HarnessError, NodeHarness

KEY, SECRET = "gw-paper-key-0001", "gw-paper-secret-do-not-leak-7f3a9c"
Q = 100_000_000
ETH = InstrumentId.coin(VenueId.BINANCE, "ETH/USDT").asset_id
ASKS = [["2000.00", "1.0"], ["2001.00", "2.0"], ["2005.00", "5.0"]]
BIDS = [["1999.00", "1.5"], ["1998.00", "3.0"]]
NODE = "nodes.cex_gateway:CexGatewayNode"


def ticker_answer(bid: str, ask: str) -> Rest:
    """A scripted bookTicker answer for ETHUSDT (the paper exchange serves none of its own)."""
    return Rest("/api/v3/ticker/bookTicker", "ETHUSDT",
                {"symbol": "ETHUSDT", "bidPrice": bid, "bidQty": "1", "askPrice": ask,
                 "askQty": "1"})


def load_book(ex: ThreadedExchange, bids: list[list[str]], asks: list[list[str]]) -> None:
    """Replace the exchange's ETHUSDT book (resting paper orders see the change)."""
    async def load() -> None:
        book = ex.exchange.market.book("ETHUSDT")
        assert book is not None
        book.load([(parse_q8(p), parse_q8(q)) for p, q in bids],
                  [(parse_q8(p), parse_q8(q)) for p, q in asks], 1)
        ex.exchange.market.changed("ETHUSDT")
    ex.call(load)


def queue_rest(ex: ThreadedExchange, answer: Rest) -> None:
    """Queue a scripted GET answer on the running exchange."""
    async def queue() -> None:
        ex.exchange.rest_script.queue(answer)
    ex.call(queue)


@contextlib.contextmanager
def paper_exchange() -> Iterator[ThreadedExchange]:
    """The local exchange with one paper account and the ETHUSDT book of :data:`ASKS`/:data:`BIDS`."""
    with serve_in_thread(keys=[(KEY, SECRET)], symbols="ETHUSDT") as ex:
        load_book(ex, BIDS, ASKS)
        queue_rest(ex, ticker_answer("1999", "2000"))
        yield ex


def key_file(directory: Path) -> Path:
    """The paper key pair in a 0600 JSON file, as ``alphapulse run`` writes it."""
    path = directory / "paper-keys.json"
    path.write_text(json.dumps([{"api_key": KEY, "secret": SECRET}]))
    path.chmod(0o600)
    return path


@contextlib.contextmanager
def gateway(ex: ThreadedExchange, keys: Path, **settings: Any) -> Iterator[NodeHarness]:
    """The gateway node on a private mesh, trading on ``ex``, ready to take orders."""
    config = {"rest_url": ex.http_url, "ws_url": ex.ws_url, "key_file": str(keys),
              "symbols": "ETHUSDT", "valuation_ms": 100, **settings}
    with NodeHarness(NODE, settings=config, mesh={"deadline_ms": 0}, start_timeout=60) as h:
        wait_ready(h)
        yield h


def wait_ready(h: NodeHarness, timeout: float = 30.0) -> None:
    """Wait until the node has the rules, the user-data stream and a valuation."""
    deadline = time.monotonic() + timeout
    while h.metric("alphapulse_cex_gateway_ready") != 1.0:
        if time.monotonic() > deadline:
            raise HarnessError(f"gateway never ready\n{h.log()[-3000:]}")
        time.sleep(0.05)


def request(order_id: int, side: OrderSide, order_type: OrderType, quantity: str,
            price: str = "0", tif: TimeInForce = TimeInForce.GTC, **fields: Any) -> OrderRequest:
    """An OrderRequest for ETHUSDT on Binance (amounts as decimal text)."""
    values = dict(order_id=order_id, opportunity_id=0, asset_id=ETH, price=parse_q8(price),
                  quantity=parse_q8(quantity), timestamp_ns=time.time_ns(),
                  venue=int(VenueId.BINANCE), asset_type=int(AssetType.COIN), side=int(side),
                  order_type=int(order_type), time_in_force=int(tif), strategy_id=1)
    values.update(fields)
    return OrderRequest(**values)


def statuses(h: NodeHarness, order_id: int) -> list[OrderStatus]:
    """Every OrderStatus collected for ``order_id``, in order."""
    return [s for s in h.produced(OrderStatus) if s.order_id == order_id]  # type: ignore[misc]


def wait_status(h: NodeHarness, order_id: int, status: int, timeout: float = 10.0
                ) -> OrderStatus:
    """The first OrderStatus of ``order_id`` in state ``status`` (waits for it)."""
    found = h.wait_for(OrderStatus, timeout=timeout,
                       where=lambda s: s.order_id == order_id and s.status == status)
    return found[0]  # type: ignore[return-value]


def order_calls(ex: ThreadedExchange) -> int:
    """Requests of ``/api/v3/order`` the exchange answered (any method, any outcome)."""
    return int(ex.stats.snapshot()["rest"].get("/api/v3/order", 0))
