"""Topics: the first part of every mesh message, laid out for ZeroMQ prefix filtering.

::

    b"2/033/000000000000002a/strategy-a:1f"
      |  |   |                |          +-- stream sequence (hex), per (publisher, topic)
      |  |   |                +------------- publisher (node name)
      |  |   +------------------------------ key: strategy id, or instrument / pool (16 hex)
      |  +---------------------------------- TLV type of the frame's first TLV (3 decimals)
      +------------------------------------- relay domain (1 decimal)

Every field before the publisher is fixed width, so a prefix selects exactly one domain, one
message type, or one strategy's or instrument's messages, and nothing else:
``prefix(domain=2, tlv_type=33, key=42)`` receives strategy 42's opportunities only.

The header's ``sequence`` is one counter per publisher (what recovery indexes). Because a
filtered subscriber sees only some topics, gaps are detected on the *stream* sequence in the
topic's tail, one counter per (publisher, domain/type/key), so any prefix filter still sees
every stream it selects completely.

All functions are pure and thread-safe.
"""

from __future__ import annotations

from typing import NamedTuple

from mesh.errors import MeshError


class BadTopic(MeshError):
    """A topic that does not follow the layout above."""

    kind = "bad_topic"


#: Length of the fixed ``d/ttt/kkkkkkkkkkkkkkkk/`` part.
FIXED_LEN = 2 + 4 + 17


def key_of(message: object) -> int:
    """The routing key of a message: its strategy id, else its instrument or pool, else 0."""
    for name in ("strategy_id", "asset_id"):
        value = getattr(message, name, None)
        if isinstance(value, int):
            return value & 0xFFFF_FFFF_FFFF_FFFF
    for name in ("pool_address", "source_pool"):
        value = getattr(message, name, None)
        if isinstance(value, bytes | bytearray) and value:
            return int.from_bytes(value[:8], "big")
    return 0


def stream_prefix(domain: int, tlv_type: int, key: int, publisher: str) -> bytes:
    """The topic of one stream without its sequence tail (ends with ``:``)."""
    return b"%d/%03d/%016x/%s:" % (domain, tlv_type, key, publisher.encode())


def prefix(domain: int | None = None, tlv_type: int | None = None, key: int | None = None,
           publisher: str | None = None) -> bytes:
    """A subscription prefix; each field needs the ones before it (``b""`` subscribes to all).

    Raises
    ------
    BadTopic
        A field given without the fields before it.
    """
    parts = [domain, tlv_type, key, publisher]
    out = b""
    for i, value in enumerate(parts):
        if value is None:
            if any(p is not None for p in parts[i + 1:]):
                raise BadTopic("a topic prefix field needs every field before it")
            break
        if i == 0:
            out += b"%d/" % value
        elif i == 1:
            out += b"%03d/" % value
        elif i == 2:
            out += b"%016x/" % value
        else:
            out += value.encode() + b":"  # type: ignore[union-attr]
    return out


class Topic(NamedTuple):
    """A parsed topic (a named tuple: cheap to build on the hot path)."""

    domain: int
    tlv_type: int
    key: int
    publisher: str
    stream_seq: int

    @property
    def stream(self) -> bytes:
        """The stream identity (topic without the sequence tail)."""
        return stream_prefix(self.domain, self.tlv_type, self.key, self.publisher)


_CACHE: dict[bytes, tuple[int, int, int, str]] = {}
_CACHE_MAX = 65_536


def parse_topic(topic: bytes) -> Topic:
    """Parse a topic; raises :class:`BadTopic` on anything malformed.

    The fixed part of each stream is parsed once and cached (a mesh has few streams), so the
    hot path is one ``rfind``, one dict lookup and one hex ``int``.
    """
    colon = topic.rfind(b":")
    fixed = _CACHE.get(topic[:colon]) if colon > 0 else None
    if fixed is not None:
        try:
            return Topic(*fixed, int(topic[colon + 1:], 16))
        except ValueError:
            raise BadTopic(f"malformed topic {topic[:64]!r}") from None
    parsed = _parse_slow(topic)
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    _CACHE[topic[:colon]] = (parsed.domain, parsed.tlv_type, parsed.key, parsed.publisher)
    return parsed


def _parse_slow(topic: bytes) -> Topic:
    colon = topic.rfind(b":")
    if len(topic) <= FIXED_LEN or topic[1:2] != b"/" or topic[5:6] != b"/" \
            or topic[22:23] != b"/" or colon < FIXED_LEN:
        raise BadTopic(f"malformed topic {topic[:64]!r}")
    try:
        return Topic(int(topic[0:1]), int(topic[2:5]), int(topic[6:22], 16),
                     topic[FIXED_LEN:colon].decode(), int(topic[colon + 1:], 16))
    except (ValueError, UnicodeDecodeError):
        raise BadTopic(f"malformed topic {topic[:64]!r}") from None
