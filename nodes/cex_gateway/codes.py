"""``OrderStatus.reject_reason`` codes: one byte for the gateway's refusals and the venue's errors.

``reject_reason`` is a u8, and Binance's error codes are negative numbers in the thousands
(``-1013``, ``-2010``): they do not fit, so the gateway maps them into this table
(docs/cex-gateway.md, "Reject codes"). 0 means no rejection; 1-63 are the gateway's own
refusals (nothing was signed); 64-254 are venue error codes, one per Binance code the gateway
knows; 255 is any other venue code (the exact code is in the node's log and counted in
``alphapulse_cex_gateway_events_total{event="binance_<code>"}``).
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["BINANCE_CODES", "OrderReject", "from_binance"]


class OrderReject(IntEnum):
    """Why an order was rejected (``OrderStatus.reject_reason``)."""

    NONE = 0
    # -- the gateway's refusals: nothing was signed or sent ---------------------------------
    HALTED = 1  #: an emergency stop, the kill flag or the dead man's switch
    NOT_READY = 2  #: the venue's rules, keys or account valuation not loaded yet
    UNKNOWN_VENUE = 3
    UNKNOWN_SYMBOL = 4  #: the asset id is none of the configured symbols
    BAD_SIDE = 5
    BAD_TYPE = 6
    BAD_TIME_IN_FORCE = 7
    BAD_QUANTITY = 8  #: not positive
    BAD_PRICE = 9  #: not positive for LIMIT, not 0 for MARKET
    PRICE_FILTER = 10  #: the symbol's PRICE_FILTER (exchangeInfo)
    LOT_SIZE = 11  #: LOT_SIZE or MARKET_LOT_SIZE
    NOTIONAL = 12  #: MIN_NOTIONAL or NOTIONAL
    SYMBOL_NOT_TRADING = 13  #: the symbol's status is not TRADING
    MAX_QUANTITY = 16  #: the per-order quantity limit
    MAX_NOTIONAL = 17  #: the per-order notional limit
    MAX_POSITION = 18  #: the per-symbol position limit (open orders counted)
    DAILY_LOSS = 19  #: the account's loss since the day's start reached the limit
    NO_REFERENCE_PRICE = 20  #: a MARKET order's notional cannot be bounded (no book price)
    # -- the request failed without a venue error code -------------------------------------
    RATE_LIMITED = 24  #: HTTP 429/418, or still backing off (Retry-After)
    TIMEOUT = 25  #: no answer, and the order was not found afterwards
    UNREACHABLE = 26
    SEND_FAILED = 27  #: any other failure before the venue answered
    # -- Binance's error codes (errors.md) ---------------------------------------------------
    VENUE_UNKNOWN = 64  #: -1000 UNKNOWN
    VENUE_DISCONNECTED = 65  #: -1001 DISCONNECTED
    VENUE_UNAUTHORIZED = 66  #: -1002 UNAUTHORIZED
    VENUE_TOO_MANY_REQUESTS = 67  #: -1003 TOO_MANY_REQUESTS
    VENUE_UNEXPECTED_RESP = 68  #: -1006 UNEXPECTED_RESP
    VENUE_TIMEOUT = 69  #: -1007 TIMEOUT
    VENUE_FILTER_FAILURE = 70  #: -1013 a symbol filter (LOT_SIZE, PRICE_FILTER, NOTIONAL ...)
    VENUE_TOO_MANY_ORDERS = 71  #: -1015 TOO_MANY_ORDERS
    VENUE_INVALID_TIMESTAMP = 72  #: -1021 INVALID_TIMESTAMP (outside recvWindow)
    VENUE_INVALID_SIGNATURE = 73  #: -1022 INVALID_SIGNATURE
    VENUE_ILLEGAL_CHARS = 74  #: -1100 ILLEGAL_CHARS
    VENUE_TOO_MANY_PARAMETERS = 75  #: -1101
    VENUE_MANDATORY_PARAM = 76  #: -1102 MANDATORY_PARAM_EMPTY_OR_MALFORMED
    VENUE_UNKNOWN_PARAM = 77  #: -1103
    VENUE_UNREAD_PARAMETERS = 78  #: -1104
    VENUE_PARAM_EMPTY = 79  #: -1105
    VENUE_PARAM_NOT_REQUIRED = 80  #: -1106
    VENUE_BAD_PRECISION = 81  #: -1111 BAD_PRECISION
    VENUE_NO_DEPTH = 82  #: -1112 NO_DEPTH
    VENUE_TIF_NOT_REQUIRED = 83  #: -1114
    VENUE_INVALID_TIF = 84  #: -1115
    VENUE_INVALID_ORDER_TYPE = 85  #: -1116
    VENUE_INVALID_SIDE = 86  #: -1117
    VENUE_BAD_SYMBOL = 87  #: -1121 BAD_SYMBOL
    VENUE_INVALID_LISTEN_KEY = 88  #: -1125
    VENUE_NEW_ORDER_REJECTED = 89  #: -2010 NEW_ORDER_REJECTED (balance, duplicate id ...)
    VENUE_CANCEL_REJECTED = 90  #: -2011 CANCEL_REJECTED
    VENUE_NO_SUCH_ORDER = 91  #: -2013 NO_SUCH_ORDER
    VENUE_BAD_API_KEY_FMT = 92  #: -2014 BAD_API_KEY_FMT
    VENUE_REJECTED_MBX_KEY = 93  #: -2015 REJECTED_MBX_KEY (invalid key, IP or permissions)
    VENUE_OTHER = 255  #: a venue code not in this table


#: Binance error code -> reject code.
BINANCE_CODES: dict[int, OrderReject] = {
    -1000: OrderReject.VENUE_UNKNOWN, -1001: OrderReject.VENUE_DISCONNECTED,
    -1002: OrderReject.VENUE_UNAUTHORIZED, -1003: OrderReject.VENUE_TOO_MANY_REQUESTS,
    -1006: OrderReject.VENUE_UNEXPECTED_RESP, -1007: OrderReject.VENUE_TIMEOUT,
    -1013: OrderReject.VENUE_FILTER_FAILURE, -1015: OrderReject.VENUE_TOO_MANY_ORDERS,
    -1021: OrderReject.VENUE_INVALID_TIMESTAMP, -1022: OrderReject.VENUE_INVALID_SIGNATURE,
    -1100: OrderReject.VENUE_ILLEGAL_CHARS, -1101: OrderReject.VENUE_TOO_MANY_PARAMETERS,
    -1102: OrderReject.VENUE_MANDATORY_PARAM, -1103: OrderReject.VENUE_UNKNOWN_PARAM,
    -1104: OrderReject.VENUE_UNREAD_PARAMETERS, -1105: OrderReject.VENUE_PARAM_EMPTY,
    -1106: OrderReject.VENUE_PARAM_NOT_REQUIRED, -1111: OrderReject.VENUE_BAD_PRECISION,
    -1112: OrderReject.VENUE_NO_DEPTH, -1114: OrderReject.VENUE_TIF_NOT_REQUIRED,
    -1115: OrderReject.VENUE_INVALID_TIF, -1116: OrderReject.VENUE_INVALID_ORDER_TYPE,
    -1117: OrderReject.VENUE_INVALID_SIDE, -1121: OrderReject.VENUE_BAD_SYMBOL,
    -1125: OrderReject.VENUE_INVALID_LISTEN_KEY, -2010: OrderReject.VENUE_NEW_ORDER_REJECTED,
    -2011: OrderReject.VENUE_CANCEL_REJECTED, -2013: OrderReject.VENUE_NO_SUCH_ORDER,
    -2014: OrderReject.VENUE_BAD_API_KEY_FMT, -2015: OrderReject.VENUE_REJECTED_MBX_KEY,
}


def from_binance(code: int) -> OrderReject:
    """The reject code of a Binance error code (``VENUE_OTHER`` when it is not in the table)."""
    return BINANCE_CODES.get(code, OrderReject.VENUE_OTHER)
