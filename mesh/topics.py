"""Topics: the first part of every mesh message, laid out for ZeroMQ prefix filtering.

::

    b"2/033/000000000000002a/strategy-a:18b9c1d2e3f40a5b:1f"
      |  |   |                |          |                +-- stream sequence (hex)
      |  |   |                |          +------------------- run: the publisher's start
      |  |   |                |                               time in ns (16 hex, fixed)
      |  |   |                +------------------------------ publisher (node name)
      |  |   +------------------------------------------------ key: strategy id, or
      |  |                                                     instrument / pool (16 hex)
      |  +---------------------------------------------------- TLV type of the frame's
      |                                                        first TLV (3 decimals)
      +------------------------------------------------------- relay domain (1 decimal)

Every field before the publisher is fixed width, so a prefix selects exactly one domain, one
message type, or one strategy's or instrument's messages, and nothing else:
``prefix(domain=2, tlv_type=33, key=42)`` receives strategy 42's opportunities only.

The header's ``sequence`` is one counter per publisher (what recovery indexes). Because a
filtered subscriber sees only some topics, gaps are detected on the *stream* sequence in the
topic's tail, one counter per (publisher, domain/type/key), so any prefix filter still sees
every stream it selects completely.

The *run* names one life of the publisher: a restarted publisher numbers its streams from 1
again under a new run, so a subscriber tells a restart from a gap whatever sequence it first
sees of the new run (:mod:`mesh.sequence`), and a recovery request names the run it recovers
(:func:`run_prefix`). A stream's identity (:func:`stream_prefix`, what the sequence tracker
keys on and what prefix filters select) stops before the run, so it survives restarts.

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
#: Hex digits of the run field.
RUN_LEN = 16
_HEX = frozenset(b"0123456789abcdef")


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
    """A stream's identity: its topic up to the publisher and ``:``, before the run."""
    return b"%d/%03d/%016x/%s:" % (domain, tlv_type, key, publisher.encode())


def run_prefix(stream: bytes, run: int) -> bytes:
    """The topic of one stream in one run without its sequence tail (ends with ``:``).

    What a publisher puts before each stream sequence, and the prefix a recovery request
    names so that only frames of that run are retransmitted.
    """
    return b"%s%016x:" % (stream, run)


def run_of_prefix(topic_prefix: bytes) -> int | None:
    """The run a prefix ending ``...publisher:<run>:`` names; None if it names none."""
    n = len(topic_prefix)
    if n < FIXED_LEN + RUN_LEN + 2 or topic_prefix[-1:] != b":" \
            or topic_prefix[n - RUN_LEN - 2:n - RUN_LEN - 1] != b":":
        return None
    digits = topic_prefix[n - RUN_LEN - 1:n - 1]
    if not _HEX.issuperset(digits):
        return None
    return int(digits, 16)


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
    run: int
    stream_seq: int

    @property
    def stream(self) -> bytes:
        """The stream identity (topic up to the publisher and ``:``, without run or tail)."""
        return stream_prefix(self.domain, self.tlv_type, self.key, self.publisher)


#: Topic up to its last ``:`` (the run) -> (its fields but the tail, the stream bytes).
_CACHE: dict[bytes, tuple[tuple[int, int, int, str, int], bytes]] = {}
_CACHE_MAX = 65_536
_new = tuple.__new__  # builds a NamedTuple without its Python-level __new__


def parse_topic(topic: bytes) -> Topic:
    """Parse a topic; raises :class:`BadTopic` on anything malformed."""
    return split_topic(topic)[0]


def split_topic(topic: bytes) -> tuple[Topic, bytes]:
    """``(parsed topic, stream)``: the stream is the topic up to the publisher's ``:``.

    The fixed part of each stream is parsed once and cached (a mesh has few streams), so the
    hot path is one ``rpartition``, one dict lookup and one hex ``int``; the stream bytes come
    from the cache too (no formatting per message).

    Raises
    ------
    BadTopic
        Anything that does not follow the layout.
    """
    head, _, tail = topic.rpartition(b":")
    cached = _CACHE.get(head)
    if cached is not None:
        try:
            return _new(Topic, cached[0] + (int(tail, 16),)), cached[1]
        except ValueError:
            raise BadTopic(f"malformed topic {topic[:64]!r}") from None
    parsed = _parse_slow(topic)
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    stream = head[:len(head) - RUN_LEN]
    _CACHE[head] = (parsed[:5], stream)
    return parsed, stream


def _parse_slow(topic: bytes) -> Topic:
    colon = topic.rfind(b":")
    run_colon = colon - RUN_LEN - 1
    if len(topic) <= FIXED_LEN or topic[1:2] != b"/" or topic[5:6] != b"/" \
            or topic[22:23] != b"/" or run_colon < FIXED_LEN \
            or topic[run_colon:run_colon + 1] != b":" \
            or not _HEX.issuperset(topic[run_colon + 1:colon]):
        raise BadTopic(f"malformed topic {topic[:64]!r}")
    try:
        return Topic(int(topic[0:1]), int(topic[2:5]), int(topic[6:22], 16),
                     topic[FIXED_LEN:run_colon].decode(), int(topic[run_colon + 1:colon], 16),
                     int(topic[colon + 1:], 16))
    except (ValueError, UnicodeDecodeError):
        raise BadTopic(f"malformed topic {topic[:64]!r}") from None
