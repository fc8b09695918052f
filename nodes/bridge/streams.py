"""What crosses the bridge: stream names, topics, and what a source said it holds.

A bridged ring is one stream. ``bridge-out`` on host ``hosta`` republishes writer
``collector-evm``'s market-data ring as source ``hosta--collector-evm``; the topic follows the
mesh layout (:mod:`mesh.topics`) with the source in the publisher field::

    b"1/000/0000000000000000/hosta--collector-evm:<run>:<stream seq>"

Domain 1 (market data), type 0 and key 0 are fixed: one stream per ring whatever its frames
hold, so the mesh's sequence tracking sees every gap of that ring. Beside it, every source has
a *beat* stream (key 1): every ``heartbeat_ms`` bridge-out sends a ``[Heartbeat]`` whose
``frames_out`` is the last stream sequence it sent for the source, so frames lost at the tail
of a burst (nothing after them to reveal the gap) are found within one interval. The stream sequence counts
*ring positions*: bridge-out adds the frames its reader lost (lapped by the writer) before the
next frame it sends, so one counter carries ring losses and ZeroMQ losses to the receiver.
``bridge-in`` writes the source's frames into its local ring named after the source
(``/ap.<ns>.market-data.hosta--collector-evm``).

:class:`SourceHoldings` remembers, per source, what a consumer may hold from it (CEX venues,
pools, the last block), read from fixed offsets of each frame's first TLV; on a gap,
:meth:`SourceHoldings.invalidations` builds the frames that make consumers drop all of it
(docs/market-data.md rule 6, docs/cex-collectors.md). Pure and not thread-safe.
"""

from __future__ import annotations

import re
import socket
import time

from alphapulse.errors import ConfigError, MeshError
from mesh.protocol import (
    REGISTRY,
    BlockEnd,
    Heartbeat,
    Message,
    PoolInvalidation,
    StateInvalidation,
    StateInvalidationReason,
    encode_frame,
)
from mesh.protocol.constants import HEADER_SIZE, InvalidationReason, RelayDomain, SourceType
from mesh.topics import run_prefix, stream_prefix

#: Between origin and writer in a source name; origins never contain ``-``.
SEP = "--"
#: Topic fields before the publisher: market-data domain, type 0, key 0.
DOMAIN = int(RelayDomain.MARKET_DATA)
TLV_TYPE = 0
KEY = 0
#: Key of a source's beat stream.
BEAT_KEY = 1
_ORIGIN = re.compile(r"^[A-Za-z0-9_]{1,24}$")
_PART = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_EXTENDED = 255
#: Most pools remembered per source (beyond it the oldest are forgotten).
MAX_POOLS = 100_000


class BadSource(MeshError):
    """A stream whose source name is not ``<origin>--<writer>`` fit for a ring name."""

    kind = "bridge_bad_source"


def default_origin() -> str:
    """This host's name as an origin: letters, digits and ``_`` (others become ``_``)."""
    name = socket.gethostname().split(".")[0] or "host"
    return re.sub(r"[^A-Za-z0-9_]", "_", name)[:24]


def check_origin(origin: str) -> str:
    """``origin`` (or the host's name when empty); raises :class:`ConfigError` if unusable."""
    origin = origin or default_origin()
    if not _ORIGIN.match(origin):
        raise ConfigError(f"origin {origin!r}: use 1-24 characters of [A-Za-z0-9_]")
    return origin


def source_name(origin: str, writer: str) -> str:
    """The source name of ``writer``'s ring on ``origin``; raises :class:`BadSource`."""
    name = f"{origin}{SEP}{writer}"
    if not _PART.match(name):
        raise BadSource(f"source {name!r} is not a ring writer name (1-64 of [A-Za-z0-9_-])")
    return name


def split_source(name: str) -> tuple[str, str]:
    """``(origin, writer)`` of a source name; raises :class:`BadSource`."""
    origin, sep, writer = name.partition(SEP)
    if not sep or not writer or not _ORIGIN.match(origin) or not _PART.match(name):
        raise BadSource(f"source {name[:80]!r} is not <origin>{SEP}<writer>")
    return origin, writer


def is_bridged(writer: str) -> bool:
    """True for a ring a bridge-in wrote (never bridged again: no loops between hosts)."""
    return SEP in writer


def topic_head(source: str, run: int, key: int = KEY) -> bytes:
    """The topic of ``source`` in bridge-out run ``run``, up to the stream sequence (``key``:
    :data:`KEY` for its frames, :data:`BEAT_KEY` for its beats)."""
    return run_prefix(stream_prefix(DOMAIN, TLV_TYPE, key, source), run)


def beat_frame(node: str, last: int, now_ns: int) -> bytes:
    """A beat: ``[Heartbeat]`` with ``frames_out`` = the last stream sequence sent."""
    return encode_frame([Heartbeat(timestamp_ns=now_ns, frames_out=last, node=node[:32])],
                        source=SourceType.MARKET_DATA_RELAY, timestamp_ns=now_ns,
                        domain=DOMAIN)


def _offsets(name: str, *fields: str) -> tuple[int, ...]:
    layout = REGISTRY[_TYPES[name]].LAYOUT
    return tuple(layout.offset(f) for f in fields)


_TYPES = {cls.__name__: int(cls.TLV_TYPE) for cls in REGISTRY.values()}
#: First-TLV type -> offset of its u16 venue (CEX market data).
_VENUE_AT = {_TYPES[n]: _offsets(n, "venue")[0]
             for n in ("Trade", "Quote", "OrderBook", "StateInvalidation")}
#: First-TLV type -> offsets of (venue, pool address) (pool frames).
_POOL_AT = {_TYPES[n]: _offsets(n, "venue", "pool_address")
            for n in ("PoolState", "PoolSync", "PoolSwap", "PoolMint", "PoolBurn",
                      "PoolLiquidity", "PoolTick", "PoolTickLiquidity")}
_BLOCK_END = int(BlockEnd.TLV_TYPE)
_BLOCK_AT, _CHAIN_AT = _offsets("BlockEnd", "block_number", "chain_id")
_POOL_INVALIDATION = int(PoolInvalidation.TLV_TYPE)


def _u(frame: bytes, at: int, n: int) -> int:
    return int.from_bytes(frame[at:at + n], "little")


class SourceHoldings:
    """What consumers may hold from one source: CEX venues, pools, the last block and chain."""

    __slots__ = ("block", "chain_id", "pools", "venues")

    def __init__(self) -> None:
        self.venues: set[int] = set()
        self.pools: dict[bytes, int] = {}  # 20-byte address -> venue
        self.block = 0
        self.chain_id = 0

    def note(self, frame: bytes) -> None:
        """Remember what ``frame`` (a checked frame) makes a consumer hold."""
        end = len(frame)
        at = HEADER_SIZE
        if end < at + 2:
            return
        t = frame[at]
        if t == _EXTENDED:
            if end < at + 5:
                return
            t, value = frame[at + 2], at + 5
        else:
            value = at + 2
        off = _VENUE_AT.get(t)
        if off is not None:
            if value + off + 2 <= end:
                self.venues.add(_u(frame, value + off, 2))
            return
        offs = _POOL_AT.get(t)
        if offs is not None:
            venue_at, pool_at = value + offs[0], value + offs[1]
            if pool_at + 20 <= end:
                pool = frame[pool_at:pool_at + 20]
                if pool not in self.pools and len(self.pools) >= MAX_POOLS:
                    del self.pools[next(iter(self.pools))]
                self.pools[pool] = _u(frame, venue_at, 2)
            return
        if t == _POOL_INVALIDATION:
            pool_at = value + 32
            self.pools.pop(frame[pool_at:pool_at + 20], None)
        elif t == _BLOCK_END and value + _CHAIN_AT + 8 <= end:
            self.block = _u(frame, value + _BLOCK_AT, 8)
            self.chain_id = _u(frame, value + _CHAIN_AT, 8)

    def invalidations(self, reason: InvalidationReason = InvalidationReason.RECOVERY,
                      now_ns: int | None = None) -> list[bytes]:
        """Frames that make a consumer drop everything it holds from this source.

        One ``[StateInvalidation]`` per CEX venue (a consumer drops the venue's books) and one
        ``[PoolInvalidation, StateInvalidationReason]`` per pool (dropped until its next
        ``PoolState``; ``block_number`` is the source's last ``BlockEnd``). The holdings are
        forgotten: what arrives next is noted afresh.
        """
        ts = time.time_ns() if now_ns is None else now_ns
        tlvs: list[list[Message]] = [
            [StateInvalidation(sequence=0, timestamp_ns=ts, instruments=(), venue=v,
                               reason=int(reason))] for v in sorted(self.venues)]
        tlvs += [[PoolInvalidation(block_number=self.block, timestamp_ns=ts,
                                   chain_id=self.chain_id, venue=venue, reason=int(reason),
                                   pool_address=pool),
                  StateInvalidationReason(reason=int(reason))]
                 for pool, venue in self.pools.items()]
        self.venues.clear()
        self.pools.clear()
        return [encode_frame(t, source=SourceType.MARKET_DATA_RELAY, timestamp_ns=ts,
                             domain=DOMAIN) for t in tlvs]
