"""The gateway's configuration keys, parsed once at start into exact values.

Paper is the default: ``mode = "paper"`` sends to the local exchange
(``http://127.0.0.1:<paper_port>``, docs/local-exchange.md) and refuses any endpoint that is not
on this host; ``mode = "live"`` points the empty ``rest_url``/``ws_url`` at Binance's real
endpoints. Limits are decimal text parsed exactly (``cex.fixed.parse_q8``), never through a
float.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from alphapulse.errors import AlphaPulseError, ConfigError
from cex.fixed import parse_q8
from cex.symbols import binance_pair
from mesh.protocol.constants import VenueId
from nodes.cex_gateway.risk import Limits
from nodes.runtime import ConfigKey

__all__ = ["CONFIG", "LIVE_REST", "LIVE_WS", "PAPER_KEYS_ENV", "PORT_ENV", "GatewaySettings",
           "SymbolConfig", "parse_settings"]

PORT_ENV = "ALPHAPULSE_EXCHANGE_PORT"
PAPER_KEYS_ENV = "ALPHAPULSE_PAPER_KEYS"
LIVE_REST = "https://api.binance.com"
LIVE_WS = "wss://stream.binance.com:9443"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

CONFIG = {
    "mode": ConfigKey("paper", "paper (the local exchange on this host) or live (Binance)"),
    "rest_url": ConfigKey("", "REST endpoint; empty = http://127.0.0.1:<paper_port> in paper "
                              "mode, https://api.binance.com live"),
    "ws_url": ConfigKey("", "websocket endpoint of the user-data stream; empty = "
                            "ws://127.0.0.1:<paper_port> paper, wss://stream.binance.com:9443 live"),
    "paper_port": ConfigKey(0, "the local exchange's port; 0 = $ALPHAPULSE_EXCHANGE_PORT (set by "
                               "alphapulse run)"),
    "key_file": ConfigKey("", "JSON key file of mode 0600 ({api_key, secret}, or a list: the "
                              "first pair); empty = $ALPHAPULSE_PAPER_KEYS in paper mode (the "
                              "local exchange's keys), else the two variables below"),
    "api_key_env": ConfigKey("ALPHAPULSE_BINANCE_API_KEY", "environment variable of the API key"),
    "api_secret_env": ConfigKey("ALPHAPULSE_BINANCE_API_SECRET",
                                "environment variable of the API secret"),
    "symbols": ConfigKey("ETHUSDT,BTCUSDT", "symbols traded (ETHUSDT or ETH/USDT); an "
                                            "OrderRequest names one by InstrumentId asset id"),
    "recv_window_ms": ConfigKey(5000, "recvWindow of signed requests (at most 60000)"),
    "timeout_ms": ConfigKey(10_000, "REST request timeout"),
    "max_backoff_wait_ms": ConfigKey(2000, "a Retry-After up to this is waited out and the "
                                           "request retried; longer ones reject at once"),
    "keepalive_s": ConfigKey(1800, "listen key keepalive (PUT) interval; Binance: every 30 min"),
    "valuation_ms": ConfigKey(5000, "account valuation (balances x book mids) interval"),
    "max_order_qty": ConfigKey("*=100", "largest quantity per order: SYMBOL=QTY list, *=QTY for "
                                        "the rest, 0 = none"),
    "max_order_notional": ConfigKey("50000", "largest price x quantity per order, quote asset"),
    "max_position": ConfigKey("*=200", "largest absolute position per symbol, open orders "
                                       "counted: SYMBOL=QTY list"),
    "max_daily_loss": ConfigKey("1000", "loss of the account's marked value since the UTC "
                                        "day's start that stops new orders, cash units"),
    "cash_assets": ConfigKey("USDT,USDC,FDUSD,BUSD,TUSD,DAI,USD",
                             "assets valued at par (the unit of notional and loss limits)"),
    "cancel_on_stop": ConfigKey(True, "cancel open orders when an emergency stop latches"),
}


@dataclass(frozen=True, slots=True)
class SymbolConfig:
    """A configured symbol: the venue's spelling, its assets and our asset id."""

    symbol: str
    base: str
    quote: str
    asset_id: int


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """Everything the gateway needs from its configuration."""

    mode: str
    rest_url: str
    ws_url: str
    key_file: str
    api_key_env: str
    api_secret_env: str
    symbols: dict[int, SymbolConfig]
    limits: Limits
    cash: frozenset[str]
    recv_window_ms: int
    timeout_s: float
    max_wait_s: float
    keepalive_s: float
    valuation_s: float
    cancel_on_stop: bool


def _amounts(text: str, key: str) -> tuple[dict[str, int], int]:
    """``SYMBOL=QTY,*=QTY`` -> ({symbol: q8}, default q8)."""
    out: dict[str, int] = {}
    default = 0
    for item in str(text).split(","):
        if not item.strip():
            continue
        name, sep, amount = item.partition("=")
        if not sep:
            raise ConfigError(f"{key}: {item.strip()!r} is not SYMBOL=AMOUNT")
        value = _q8(amount, key)
        if name.strip() == "*":
            default = value
        else:
            out[name.strip().upper().replace("/", "")] = value
    return out, default


def _q8(text: str, key: str) -> int:
    try:
        return parse_q8(str(text).strip())
    except AlphaPulseError as exc:
        raise ConfigError(f"{key}: {exc}") from None


def _endpoint(url: str, mode: str, key: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
        raise ConfigError(f"{key}: {url!r} is not an http(s) or ws(s) URL")
    if mode == "paper" and parts.hostname not in _LOOPBACK:
        raise ConfigError(f"{key}: paper mode sends to the local exchange only, not "
                          f"{parts.hostname} (set mode = \"live\" for a real venue)")
    return url.rstrip("/")


def parse_settings(s: Mapping[str, Any], environ: Mapping[str, str] | None = None
                   ) -> GatewaySettings:
    """Parse the node's resolved settings (``environ``: the process environment by default).

    Raises
    ------
    ConfigError
        An unknown mode, a bad URL (or a remote one in paper mode), a bad symbol or amount.
    """
    mode = str(s["mode"]).strip().lower()
    if mode not in ("paper", "live"):
        raise ConfigError(f"mode must be paper or live, not {s['mode']!r}")
    env = os.environ if environ is None else environ
    rest, ws = str(s["rest_url"]), str(s["ws_url"])
    if mode == "live":
        rest, ws = rest or LIVE_REST, ws or LIVE_WS
    elif not (rest and ws):
        port = int(s["paper_port"]) or int(env.get(PORT_ENV, "0") or 0)
        if not port:
            raise ConfigError(f"paper mode needs the local exchange's port: paper_port, "
                              f"rest_url/ws_url or ${PORT_ENV}")
        rest, ws = rest or f"http://127.0.0.1:{port}", ws or f"ws://127.0.0.1:{port}"
    key_file = str(s["key_file"]) or (env.get(PAPER_KEYS_ENV, "") if mode == "paper" else "")
    symbols: dict[int, SymbolConfig] = {}
    for text in str(s["symbols"]).split(","):
        if not text.strip():
            continue
        try:
            pair = binance_pair(text, int(VenueId.BINANCE))
        except AlphaPulseError as exc:
            raise ConfigError(f"symbols: {exc}") from None
        symbols[pair.instrument.asset_id] = SymbolConfig(pair.symbol, pair.base, pair.quote,
                                                         pair.instrument.asset_id)
    if not symbols:
        raise ConfigError("symbols: no symbol configured")
    max_qty, default_qty = _amounts(s["max_order_qty"], "max_order_qty")
    max_pos, default_pos = _amounts(s["max_position"], "max_position")
    limits = Limits(max_qty=max_qty, default_qty=default_qty,
                    max_notional_q8=_q8(s["max_order_notional"], "max_order_notional"),
                    max_position=max_pos, default_position=default_pos,
                    max_daily_loss_q8=_q8(s["max_daily_loss"], "max_daily_loss"))
    window = int(s["recv_window_ms"])
    if not 0 < window <= 60_000:
        raise ConfigError(f"recv_window_ms must be 1..60000, not {window}")
    return GatewaySettings(
        mode=mode, rest_url=_endpoint(rest, mode, "rest_url"),
        ws_url=_endpoint(ws, mode, "ws_url"), key_file=key_file,
        api_key_env=str(s["api_key_env"]), api_secret_env=str(s["api_secret_env"]),
        symbols=symbols, limits=limits,
        cash=frozenset(a.strip().upper() for a in str(s["cash_assets"]).split(",") if a.strip()),
        recv_window_ms=window, timeout_s=int(s["timeout_ms"]) / 1000,
        max_wait_s=int(s["max_backoff_wait_ms"]) / 1000, keepalive_s=float(s["keepalive_s"]),
        valuation_s=int(s["valuation_ms"]) / 1000, cancel_on_stop=bool(s["cancel_on_stop"]))
