"""Binance request signing: the exact query string, its HMAC-SHA256 signature, the API keys.

Binance's SIGNED endpoints (docs/cex-gateway.md, "Signing") take a ``signature`` parameter:
the hex HMAC-SHA256, keyed with the API secret, of ``totalParams`` (the query string
concatenated with the request body, exactly as sent). The gateway sends every parameter in the
query string and no body, so ``totalParams`` is the query string::

    params = [("symbol", "LTCBTC"), ("side", "BUY"), ("type", "LIMIT"),
              ("timeInForce", "GTC"), ("quantity", "1"), ("price", "0.1"),
              ("recvWindow", "5000"), ("timestamp", "1499827319559")]
    sign(secret, query_string(params))  # Binance's documented example, c8db5682...6b71

Parameters keep the order the caller gives (:func:`order_params` writes Binance's documented
order), so a request is reproducible byte for byte. Decimals are written from the protocol's
i64 x 1e8 integers by :func:`decimal_text` (no float, no exponent, trailing zeros trimmed).

Keys (:class:`Credentials`) come from the environment or from a file only its owner may read
(mode 0600 or narrower); the secret never appears in a ``repr``, a log line or an error.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import orjson

from cex.errors import BadField, CexError
from cex.fixed import format_q8
from contracts.accounts import read_private

__all__ = ["API_KEY_ENV", "API_SECRET_ENV", "ApiKeyError", "Credentials", "client_order_id",
           "decimal_text", "load_credentials", "mask", "order_id_of", "order_params",
           "query_string", "sign", "signed_query"]

API_KEY_ENV = "ALPHAPULSE_BINANCE_API_KEY"
API_SECRET_ENV = "ALPHAPULSE_BINANCE_API_SECRET"
#: Permission bits a key file must not have: anything beyond owner read/write.
#: Characters Binance accepts in a client order id (``^[a-zA-Z0-9-_]{1,36}$``).
_CLIENT_ID = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")

Param = tuple[str, str]


class ApiKeyError(CexError):
    """API keys that cannot be loaded: unset variables, a missing, unreadable, too open or
    malformed file. The message names the variable or the file, never a key."""

    kind = "key"


@dataclass(frozen=True, slots=True)
class Credentials:
    """An API key and its secret. ``repr`` and ``str`` show neither the secret nor the key.

    Attributes
    ----------
    api_key : str
        Sent in the ``X-MBX-APIKEY`` header.
    secret : bytes
        The HMAC key; never sent, never logged.
    """

    api_key: str = field(repr=False)
    secret: bytes = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(api_key={mask(self.api_key)}, secret=<hidden>)"

    __str__ = __repr__


def mask(text: str) -> str:
    """The first four characters of a key and its length, for a log line that must tell keys
    apart without showing one (``vmPU…(64)``)."""
    return f"{text[:4]}…({len(text)})"


def decimal_text(value_q8: int) -> str:
    """A positive i64 x 1e8 amount as the decimal text Binance accepts (``100000000`` -> ``"1"``,
    ``10_000_000`` -> ``"0.1"``, ``1`` -> ``"0.00000001"``): exact, no exponent, no trailing
    zeros.

    Raises
    ------
    BadField
        Zero or negative (orders carry no such amount), or not an int.
    """
    if type(value_q8) is not int or value_q8 <= 0:
        raise BadField(f"an order amount is a positive integer x 1e8, got {value_q8!r}")
    return format_q8(value_q8)


def client_order_id(order_id: int, prefix: str = "ap-") -> str:
    """Our order id as Binance's ``newClientOrderId`` (``ap-42``); :func:`order_id_of` reverses it."""
    text = f"{prefix}{order_id}"
    if len(text) > 36 or not set(text) <= _CLIENT_ID:
        raise BadField(f"client order id {text!r} is not ^[a-zA-Z0-9-_]{{1,36}}$")
    return text


def order_id_of(client_id: str, prefix: str = "ap-") -> int | None:
    """Our order id in a client order id, or None when the order is not one of ours."""
    if not client_id.startswith(prefix):
        return None
    digits = client_id[len(prefix):]
    return int(digits) if digits.isdigit() and digits.isascii() else None


def order_params(*, symbol: str, side: str, order_type: str, quantity_q8: int,
                 price_q8: int = 0, time_in_force: str = "", client_id: str = "",
                 response_type: str = "FULL") -> list[Param]:
    """The parameters of ``POST /api/v3/order`` in Binance's documented order.

    ``LIMIT`` orders carry ``timeInForce`` and ``price``; ``MARKET`` orders neither (their
    ``quantity`` is in the base asset).

    Raises
    ------
    BadField
        A LIMIT without a price or time in force, a MARKET with one, a non-positive amount.
    """
    params: list[Param] = [("symbol", symbol), ("side", side), ("type", order_type)]
    if order_type == "LIMIT":
        if not time_in_force:
            raise BadField("a LIMIT order needs a timeInForce")
        params.append(("timeInForce", time_in_force))
        params.append(("quantity", decimal_text(quantity_q8)))
        params.append(("price", decimal_text(price_q8)))
    elif order_type == "MARKET":
        if price_q8 or time_in_force:
            raise BadField("a MARKET order has neither price nor timeInForce")
        params.append(("quantity", decimal_text(quantity_q8)))
    else:
        raise BadField(f"order type {order_type!r} is neither LIMIT nor MARKET")
    if client_id:
        params.append(("newClientOrderId", client_id))
    params.append(("newOrderRespType", response_type))
    return params


def query_string(params: Iterable[Param] | Mapping[str, str]) -> str:
    """``k=v&k=v`` in the given order, each name and value percent-encoded (RFC 3986
    unreserved characters kept), as it is sent and signed."""
    items = params.items() if isinstance(params, Mapping) else params
    return "&".join(f"{quote(str(k), safe='')}={quote(str(v), safe='')}" for k, v in items)


def sign(secret: bytes, total_params: str) -> str:
    """The hex HMAC-SHA256 of ``total_params`` keyed with ``secret`` (Binance's ``signature``)."""
    return hmac.new(secret, total_params.encode("ascii"), hashlib.sha256).hexdigest()


def signed_query(params: Sequence[Param], secret: bytes, *, timestamp_ms: int,
                 recv_window_ms: int | None = 5000) -> str:
    """The full query string of a SIGNED request: ``params``, ``recvWindow``, ``timestamp``,
    then ``signature`` over everything before it.

    Raises
    ------
    BadField
        A ``recvWindow`` outside 1..60000 ms (Binance's maximum is 60 000).
    """
    tail: list[Param] = []
    if recv_window_ms is not None:
        if not 0 < recv_window_ms <= 60_000:
            raise BadField(f"recvWindow must be 1..60000 ms, got {recv_window_ms}")
        tail.append(("recvWindow", str(recv_window_ms)))
    tail.append(("timestamp", str(timestamp_ms)))
    total = query_string([*params, *tail])
    return f"{total}&signature={sign(secret, total)}"


# -- keys ----------------------------------------------------------------------------------


def load_credentials(key_file: str | os.PathLike[str] | None = None, *,
                     key_env: str = API_KEY_ENV, secret_env: str = API_SECRET_ENV,
                     environ: Mapping[str, str] | None = None) -> Credentials:
    """The API key and secret from ``key_file``, or else from the environment.

    The file is JSON: ``{"api_key": "...", "secret": "..."}``, or a list of such objects (the
    local exchange's key file: the first pair is used). It is refused, not merely warned about,
    when its mode is wider than 0600, as ssh refuses an open private key.

    Raises
    ------
    ApiKeyError
        A variable unset or empty, the file missing, unreadable, too open or malformed.
    """
    if key_file:
        return _from_file(Path(key_file))
    env = os.environ if environ is None else environ
    key, secret = env.get(key_env, "").strip(), env.get(secret_env, "").strip()
    if not key:
        raise ApiKeyError(f"environment variable {key_env} is not set")
    if not secret:
        raise ApiKeyError(f"environment variable {secret_env} is not set")
    return Credentials(key, secret.encode())


def _from_file(path: Path) -> Credentials:
    key, secret = load_key_pairs(path)[0]
    return Credentials(key, secret.encode())


def load_key_pairs(path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """Every (api key, secret) pair of a key file: JSON ``{"api_key", "secret"}`` or a list of
    them (the local exchange's file), mode 0600 at most.

    Raises
    ------
    ApiKeyError
        Missing, unreadable, not a regular file, too open, not JSON, an entry without
        non-empty strings, a key that is not printable ASCII, a key listed twice.
    """
    path = Path(path)
    try:
        doc = orjson.loads(read_private(path, "key file", ApiKeyError))
    except orjson.JSONDecodeError:
        raise ApiKeyError(f"key file {path} is not JSON") from None
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        raise ApiKeyError(f"key file {path} holds no key object")
    pairs = []
    for n, item in enumerate(items):
        key = item.get("api_key") if isinstance(item, dict) else None
        secret = item.get("secret") if isinstance(item, dict) else None
        if not (isinstance(key, str) and key and isinstance(secret, str) and secret):
            raise ApiKeyError(f"key file {path}: entry {n} needs non-empty strings api_key and "
                              "secret")
        if not key.isascii() or not key.isprintable():
            raise ApiKeyError(f"key file {path}: entry {n}'s api_key is not printable ASCII")
        pairs.append((key, secret))
    if len({k for k, _ in pairs}) != len(pairs):
        raise ApiKeyError(f"key file {path}: an api_key is listed twice")
    return pairs
