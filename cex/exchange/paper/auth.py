"""SIGNED endpoints, verified as Binance documents them.

The API key comes in the ``X-MBX-APIKEY`` header. ``signature`` is the lowercase hex
HMAC-SHA256, keyed with the API secret, of the *total params*: the query string concatenated
with the request body, exactly as sent (percent-encoding kept), without the ``signature``
parameter itself. ``timestamp`` (ms) must be no more than 1000 ms ahead of the server and no
older than ``recvWindow`` ms (default 5000, at most 60000). A parameter present in both the
query string and the body takes the query string's value.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl

from cex.exchange.paper import reject

DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60000


def strip_signature(raw: str) -> tuple[str, str | None]:
    """``raw`` (a query string or a form body) without its ``signature=`` item, and the
    signature found there (None when absent)."""
    kept, found = [], None
    for item in raw.split("&") if raw else ():
        if item.startswith("signature="):
            found = item[len("signature="):]
        else:
            kept.append(item)
    return "&".join(kept), found


def total_params(query: str, body: str) -> tuple[str, str | None]:
    """The signed payload (query then body, each without ``signature``) and the signature."""
    q, q_sig = strip_signature(query)
    b, b_sig = strip_signature(body)
    return q + b, q_sig if q_sig is not None else b_sig


def sign(secret: str, payload: str) -> str:
    """Lowercase hex HMAC-SHA256 of ``payload`` keyed with ``secret``."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def params_of(query: str, body: str) -> dict[str, str]:
    """Every parameter, decoded; the query string wins over the body."""
    params = dict(parse_qsl(body, keep_blank_values=True))
    params.update(parse_qsl(query, keep_blank_values=True))
    params.pop("signature", None)
    return params


def api_key(headers: Mapping[str, str], keys: Mapping[str, str]) -> str:
    """The request's known API key (raises -2014 without one, -2015 for an unknown one)."""
    key = headers.get("X-MBX-APIKEY", "")
    if not key or not key.isascii() or len(key) > 128:
        raise reject.bad_key_format()
    if key not in keys:
        raise reject.bad_key()
    return key


def verify(query: str, body: str, headers: Mapping[str, str], keys: Mapping[str, str],
           now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000) -> tuple[str, dict[str, str]]:
    """Check a SIGNED request; return its API key and parameters.

    Raises
    ------
    Reject
        -2014/-2015 (key), -1102 (timestamp or signature missing), -1131 (recvWindow),
        -1021 (timestamp outside the window), -1022 (signature).
    """
    key = api_key(headers, keys)
    payload, signature = total_params(query, body)
    params = params_of(query, body)
    stamp = params.get("timestamp", "")
    if not stamp.isdigit():
        raise reject.missing("timestamp")
    window_text = params.get("recvWindow", str(DEFAULT_RECV_WINDOW))
    if not window_text.isdigit():
        raise reject.illegal("recvWindow")
    window = int(window_text)
    if window > MAX_RECV_WINDOW:
        raise reject.bad_recv_window()
    now = now_ms()
    if int(stamp) >= now + 1000:
        raise reject.ahead_of_server()
    if now - int(stamp) > window:
        raise reject.outside_window()
    if not signature:
        raise reject.missing("signature")
    if not hmac.compare_digest(signature.lower(), sign(keys[key], payload)):
        raise reject.bad_signature()
    return key, params
