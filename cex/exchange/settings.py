"""Connection settings of the local exchange: the venues' documented limits, adjustable for tests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WsLimits:
    """Websocket limits and keep-alive timing.

    Attributes
    ----------
    ping_interval : float
        Seconds between the server's pings on Binance connections (Binance: 20 s).
    pong_timeout : float
        Seconds a ping may stay unanswered before the connection is closed (Binance: 60 s).
    max_streams : int
        Streams one Binance connection may listen to (Binance: 1024); more closes it.
    max_incoming : int | None
        Incoming messages (pings, pongs, JSON requests) a Binance connection may send in any
        second (Binance: 5); more closes it. None: no limit.
    coinbase_subscribe_deadline : float
        Seconds a Coinbase client has to send its first subscribe (Coinbase: 5 s) before it is
        closed.
    """

    ping_interval: float = 20.0
    pong_timeout: float = 60.0
    max_streams: int = 1024
    max_incoming: int | None = 5
    coinbase_subscribe_deadline: float = 5.0
