"""Binance's error answers of the paper exchange: code, message and HTTP status."""

from __future__ import annotations


class Reject(Exception):
    """A request the paper exchange refuses with Binance's ``{"code": ..., "msg": ...}``."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status


def bad_key() -> Reject:
    """-2015: an API key the exchange does not know."""
    return Reject(-2015, "Invalid API-key, IP, or permissions for action.", 401)


def bad_key_format() -> Reject:
    """-2014: no API key, or one that cannot be a key."""
    return Reject(-2014, "API-key format invalid.", 401)


def bad_signature() -> Reject:
    """-1022: the signature does not match the request."""
    return Reject(-1022, "Signature for this request is not valid.")


def outside_window() -> Reject:
    """-1021: the timestamp is older than recvWindow."""
    return Reject(-1021, "Timestamp for this request is outside of the recvWindow.")


def ahead_of_server() -> Reject:
    """-1021: the timestamp is more than a second ahead of the server's clock."""
    return Reject(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")


def bad_recv_window() -> Reject:
    """-1131: recvWindow above 60000."""
    return Reject(-1131, "recvWindow must be less than 60000")


def missing(name: str) -> Reject:
    """-1102: a mandatory parameter missing or empty."""
    return Reject(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def illegal(name: str) -> Reject:
    """-1100: a parameter that is not a plain decimal or integer."""
    return Reject(-1100, f"Illegal characters found in parameter '{name}'; legal range is "
                         "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.")


def precision() -> Reject:
    """-1111: more decimals than the exchange keeps (8)."""
    return Reject(-1111, "Precision is over the maximum defined for this asset.")


def bad_symbol() -> Reject:
    """-1121: a symbol the exchange does not list."""
    return Reject(-1121, "Invalid symbol.")


def filter_failure(name: str) -> Reject:
    """-1013: an order outside a symbol filter (PRICE_FILTER, LOT_SIZE, MIN_NOTIONAL)."""
    return Reject(-1013, f"Filter failure: {name}")


def not_required(name: str) -> Reject:
    """-1106: a parameter this order type does not take."""
    return Reject(-1106, f"Parameter '{name}' sent when not required.")


def insufficient_balance() -> Reject:
    """-2010: the account cannot pay for the order."""
    return Reject(-2010, "Account has insufficient balance for requested action.")


def duplicate_order() -> Reject:
    """-2010: a newClientOrderId already used by an open order."""
    return Reject(-2010, "Duplicate order sent.")


def no_such_order() -> Reject:
    """-2013: an order query for an order that does not exist."""
    return Reject(-2013, "Order does not exist.")


def unknown_order() -> Reject:
    """-2011: a cancel of an order that does not exist or is no longer open."""
    return Reject(-2011, "Unknown order sent.")


def bad_listen_key() -> Reject:
    """-1125: a listenKey that does not exist."""
    return Reject(-1125, "This listenKey does not exist.")
