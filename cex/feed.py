"""The interface one transport drives for every venue: :class:`VenueFeed`.

A feed is a venue's wire format and book logic without any I/O, so it can be unit-tested and
benchmarked with bytes alone. The transport (``nodes/collector_cex/transport.py``) owns the
sockets and calls, in this order::

    url = feed.ws_url()                        # open the websocket
    for text in feed.subscribe_messages():     # send right after connecting
        await ws.send(text)
    feed.on_connect(now_ns)                    # the stream is open (state reset)
    out = feed.on_message(raw, recv_ns)        # per message: frames to write, REST work
    out = feed.on_snapshot(reply, recv_ns)     # per REST reply it asked for
    frames = feed.on_disconnect(now_ns)        # the connection is gone

Each frame is a list of protocol messages; the transport encodes it on the market-data ring
with the receive time in the header (``recv_ns``: the wall clock when the bytes arrived) and
the feed's ``source``. Messages carry the exchange's own time. Errors in input are counted in
``feed.errors`` by kind (:mod:`cex.errors`) and never raised out of ``on_message``.
"""

from __future__ import annotations

import abc
from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

from cex.frames import Frame, invalidations
from mesh.protocol import InstrumentId
from mesh.protocol.constants import InvalidationReason

__all__ = ["NOTHING", "FeedOutput", "Frame", "Limits", "RestReply", "RestRequest", "VenueFeed"]


@dataclass(frozen=True, slots=True)
class RestRequest:
    """A REST GET the feed needs (a depth snapshot); the transport performs it asynchronously.

    Attributes
    ----------
    key : str
        What the answer is for (the venue symbol); handed back in :class:`RestReply`.
    path : str
        Path below the venue's REST base URL (``/api/v3/depth``).
    params : tuple of (str, str)
        Query parameters, in order.
    weight : int
        The request's weight in the venue's rate limit (informational, for the transport).
    epoch : int
        The feed's connection epoch when asked; an answer from another epoch is ignored.
    delay_s : float
        Wait this long before sending (a retry after a failure).
    """

    key: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    weight: int = 1
    epoch: int = 0
    delay_s: float = 0.0


@dataclass(frozen=True, slots=True)
class RestReply:
    """The answer to a :class:`RestRequest`: the body, or the failure that replaced it.

    Attributes
    ----------
    request : RestRequest
        The request answered.
    status : int
        HTTP status (0 when no answer came: a connection error or a timeout).
    body : bytes
        The raw body (empty when none).
    """

    request: RestRequest
    status: int
    body: bytes = b""


class FeedOutput(NamedTuple):
    """What one input produced: frames to write and REST requests to perform."""

    frames: list[Frame]
    requests: list[RestRequest]


NOTHING = FeedOutput([], [])
"""The empty output (shared: callers must not mutate it)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """A venue's documented connection limits, which the transport keeps.

    Attributes
    ----------
    max_streams : int
        Streams (or channels x products) per connection.
    max_incoming_per_s : int
        Messages a client may send per second (subscriptions, pongs excluded).
    max_age_s : float
        The venue closes a connection after this long; the transport reconnects earlier.
    subscribe_within_s : float
        The venue closes a connection that has not subscribed within this time (0: none).
    """

    max_streams: int
    max_incoming_per_s: int
    max_age_s: float
    subscribe_within_s: float = 0.0


@dataclass
class VenueFeed(abc.ABC):
    """A venue's messages in, protocol frames out; no I/O.

    Attributes
    ----------
    name : str
        The venue's configuration name (``binance``), label of the metrics.
    venue : int
        VenueId of its instruments.
    source : int
        SourceType of the frames' header.
    limits : Limits
        The venue's documented connection limits.
    errors : collections.Counter
        Input errors by kind (``bad_json``, ``bad_field``, ``precision``, ``gap``, ``stale``...).
    resync_requested : bool
        Set by a feed whose venue can only resynchronise on a new connection (Coinbase): the
        transport closes the connection (invalidating the books) and opens a new one at once.
    """

    name: str
    venue: int
    source: int
    limits: Limits
    errors: Counter[str] = field(default_factory=Counter)
    resync_requested: bool = False

    # -- connection ------------------------------------------------------------------------

    @abc.abstractmethod
    def ws_url(self) -> str:
        """The websocket URL to open (built from the configured symbols)."""

    def subscribe_messages(self) -> list[str]:
        """Text messages to send right after connecting (none by default)."""
        return []

    @abc.abstractmethod
    def on_connect(self, now_ns: int) -> FeedOutput:
        """The connection is open: reset per-connection state; may ask for REST work."""

    @abc.abstractmethod
    def on_disconnect(self, now_ns: int) -> list[Frame]:
        """The connection is gone: the StateInvalidation frames of the venue's books."""

    # -- data ------------------------------------------------------------------------------

    @abc.abstractmethod
    def on_message(self, raw: bytes | str, recv_ns: int) -> FeedOutput:
        """One websocket message: frames to write, REST requests; errors counted, not raised."""

    def on_snapshot(self, reply: RestReply, recv_ns: int) -> FeedOutput:
        """A REST answer the feed asked for (a book snapshot); none by default."""
        return NOTHING

    @abc.abstractmethod
    def instruments(self) -> list[InstrumentId]:
        """Every book instrument of the feed (what a disconnection invalidates)."""

    # -- helpers ---------------------------------------------------------------------------

    def count(self, kind: str, n: int = 1) -> None:
        """Count ``n`` input errors of ``kind``."""
        self.errors[kind] += n

    def invalidation(self, instruments: list[InstrumentId], reason: InvalidationReason,
                     timestamp_ns: int, sequence: int = 0) -> list[Frame]:
        """StateInvalidation frames for ``instruments`` of this venue (16 per frame)."""
        return invalidations(self.venue, instruments, reason, timestamp_ns, sequence)
