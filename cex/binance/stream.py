"""Binance spot combined-stream messages -> typed events and protocol messages, no I/O.

A combined stream wraps every payload as ``{"stream": "<name>", "data": {...}}``
(``/stream?streams=ethusdt@trade/ethusdt@bookTicker/ethusdt@depth@100ms``). The payloads
parsed here, as Binance documents them for spot:

- ``<symbol>@trade``: ``e`` "trade", ``E`` event time (ms), ``s`` symbol, ``t`` trade id,
  ``p`` price, ``q`` quantity, ``T`` trade time (ms), ``m`` buyer is the maker (so the taker
  sold: side 1), ``M`` ignored.
- ``<symbol>@bookTicker``: ``u`` book update id, ``s``, ``b``/``B`` best bid price/qty,
  ``a``/``A`` best ask price/qty. Spot book tickers carry no time: the Quote's time is the
  receive time (an ``E`` field, if present, is used instead).
- ``<symbol>@depth@100ms``: ``e`` "depthUpdate", ``E``, ``s``, ``U`` first and ``u`` final
  update id of the event, ``b``/``a`` changed levels ``[price, qty]`` with absolute
  quantities (0 removes the level).

Decimal text becomes i64 x 1e8 exactly (:mod:`cex.fixed`); anything else is a typed error.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from cex.book import Level
from cex.errors import BadField
from cex.fixed import I64_MAX, parse_int, parse_q8, parse_q8_cached
from cex.frames import SIDE_BUY, SIDE_SELL
from cex.frames import quote as quote_message
from cex.frames import trade as trade_message
from mesh.protocol import InstrumentId, Quote, Trade

MS = 1_000_000
"""Nanoseconds per millisecond (Binance times are ms)."""


class DepthEvent(NamedTuple):
    """One diff-depth event: update ids ``first`` (U) .. ``last`` (u), changed levels."""

    first: int
    last: int
    time_ns: int
    bids: list[Level]
    asks: list[Level]


class DepthSnapshot(NamedTuple):
    """A REST depth snapshot: ``last_update_id`` and every level (best first as sent)."""

    last_update_id: int
    bids: list[Level]
    asks: list[Level]


def parse_ms(value: object) -> int:
    """A Binance time in milliseconds as nanoseconds, which must fit the protocol's i64.

    Raises
    ------
    BadField
        Not a non-negative integer, or a time whose nanoseconds exceed 2^63 - 1.
    """
    ms = parse_int(value)
    if ms > I64_MAX // MS:
        raise BadField(f"time {ms} ms is beyond 2^63-1 ns")
    return ms * MS


def _field(data: dict[str, Any], key: str) -> Any:
    try:
        return data[key]
    except KeyError:
        raise BadField(f"missing field {key!r}") from None


def levels(raw: Any) -> list[Level]:
    """``[[price, qty], ...]`` as (price, size) integers x 1e8.

    Raises
    ------
    BadField
        Not a list of two-string lists; PrecisionLoss for digits beyond the 8th decimal.
    """
    if type(raw) is not list:
        raise BadField("levels are a list of [price, qty]")
    out = []
    for level in raw:
        if type(level) is not list or len(level) != 2:
            raise BadField(f"a level is [price, qty], got {level!r}")
        price, qty = level
        if type(price) is not str or type(qty) is not str:
            raise BadField(f"a level is two decimal strings, got {level!r}")
        out.append((parse_q8_cached(price), parse_q8_cached(qty)))
    return out


def parse_trade(instrument: InstrumentId, data: dict[str, Any]) -> Trade:
    """A ``trade`` payload as a Trade (trade time, taker side from ``m``)."""
    maker = _field(data, "m")
    if type(maker) is not bool:
        raise BadField(f"'m' is a boolean, got {maker!r}")
    return trade_message(instrument, parse_q8(_field(data, "p")), parse_q8(_field(data, "q")),
                         parse_ms(_field(data, "T")), SIDE_SELL if maker else SIDE_BUY)


def parse_book_ticker(instrument: InstrumentId, data: dict[str, Any], recv_ns: int) -> Quote:
    """A ``bookTicker`` payload as a Quote (time: ``E`` if sent, else the receive time)."""
    parse_int(_field(data, "u"))
    event_ms = data.get("E")
    time_ns = recv_ns if event_ms is None else parse_ms(event_ms)
    return quote_message(instrument,
                         (parse_q8(_field(data, "b")), parse_q8(_field(data, "B"))),
                         (parse_q8(_field(data, "a")), parse_q8(_field(data, "A"))), time_ns)


def parse_depth(data: dict[str, Any]) -> DepthEvent:
    """A ``depthUpdate`` payload as a :class:`DepthEvent`.

    Raises
    ------
    BadField
        Missing or malformed fields, or ``U`` > ``u``.
    """
    first = parse_int(_field(data, "U"))
    last = parse_int(_field(data, "u"))
    if first > last:
        raise BadField(f"depth update ids U={first} > u={last}")
    return DepthEvent(first, last, parse_ms(_field(data, "E")),
                      levels(_field(data, "b")), levels(_field(data, "a")))


def parse_snapshot(data: Any) -> DepthSnapshot:
    """A ``GET /api/v3/depth`` answer as a :class:`DepthSnapshot`."""
    if type(data) is not dict:
        raise BadField("a depth snapshot is a JSON object")
    return DepthSnapshot(parse_int(_field(data, "lastUpdateId")),
                         levels(_field(data, "bids")), levels(_field(data, "asks")))


def combined_url(base: str, streams: list[str]) -> str:
    """``<base>/stream?streams=a/b/c`` (stream names are lower case)."""
    return f"{base.rstrip('/')}/stream?streams={'/'.join(streams)}"


def stream_names(symbol: str) -> tuple[str, str, str]:
    """The trade, bookTicker and 100 ms diff-depth stream names of a symbol."""
    s = symbol.lower()
    return f"{s}@trade", f"{s}@bookTicker", f"{s}@depth@100ms"
