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

from typing import NamedTuple, cast

from alphapulse.errors import MeshError


class BadTopic(MeshError):
    """A topic that does not follow the layout above."""

    kind = "bad_topic"


#: Length of the fixed ``d/ttt/kkkkkkkkkkkkkkkk/`` part.
FIXED_LEN = 2 + 4 + 17


_KEY_INT_FIELDS = ("strategy_id", "asset_id")
_KEY_BYTES_FIELDS = ("pool_address", "source_pool")
#: Per message class: the key fields it has, in the order :func:`key_of` tries them.
_KEY_FIELDS: dict[type, tuple[tuple[str, bool], ...]] = {}


def key_of(message: object) -> int:
    """The routing key of a message: its strategy id, else its instrument or pool, else 0.

    Which of those fields a class has is looked up once per class, so the per-message cost
    is one dict lookup and one or two attribute reads.
    """
    fields = _KEY_FIELDS.get(type(message))
    if fields is None:
        fields = tuple((n, True) for n in _KEY_INT_FIELDS if hasattr(message, n)) + \
            tuple((n, False) for n in _KEY_BYTES_FIELDS if hasattr(message, n))
        _KEY_FIELDS[type(message)] = fields
    for name, is_int in fields:
        value = getattr(message, name, None)
        if is_int:
            if isinstance(value, int):
                return value & 0xFFFF_FFFF_FFFF_FFFF
        elif isinstance(value, bytes | bytearray) and value:
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
            out += b"%d/" % cast(int, value)
        elif i == 1:
            out += b"%03d/" % cast(int, value)
        elif i == 2:
            out += b"%016x/" % cast(int, value)
        else:
            out += cast(str, value).encode() + b":"
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


#: Stream (topic up to and including ``:``) -> (its fixed fields, the stream bytes).
_CACHE: dict[bytes, tuple[tuple[int, int, int, str], bytes]] = {}
_CACHE_MAX = 65_536
_new = tuple.__new__  # builds a NamedTuple without its Python-level __new__


def parse_topic(topic: bytes) -> Topic:
    """Parse a topic; raises :class:`BadTopic` on anything malformed."""
    return split_topic(topic)[0]


def split_topic(topic: bytes) -> tuple[Topic, bytes]:
    """``(parsed topic, stream)``: the stream is the topic up to and including ``:``.

    The fixed part of each stream is parsed once and cached (a mesh has few streams), so the
    hot path is one ``rpartition``, one dict lookup and one hex ``int``; the stream bytes come
    from the cache too (no formatting per message).

    Raises
    ------
    BadTopic
        Anything that does not follow the layout.
    """
    head, colon, tail = topic.rpartition(b":")
    cached = _CACHE.get(head)
    if cached is not None:
        try:
            return _new(Topic, cached[0] + (int(tail, 16),)), cached[1]
        except ValueError:
            raise BadTopic(f"malformed topic {topic[:64]!r}") from None
    parsed = _parse_slow(topic)
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    _CACHE[head] = (parsed[:4], head + colon)
    return parsed, head + colon


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
