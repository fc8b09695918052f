"""The TLV type registry: every message type with a layout, by number and by name.

:func:`message` declares a type once (number, name, domain, fields) and registers the class
generated from it. The Python codec, the numba kernels (offset constants), the command line
(``alphapulse types``, JSON) and the byte tables in ``docs/protocol-types.md`` all read
this registry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from mesh.protocol.constants import RelayDomain, domain_of_type
from mesh.protocol.errors import BadFieldValue
from mesh.protocol.layout import Field, Layout, Record, TypedEquality, Vec
from mesh.protocol.tlv import tlv_bytes, tlv_header

__all__ = ["BY_NAME", "REGISTRY", "Message", "message", "record"]


class Message(TypedEquality):
    """Base of every decoded TLV value: an immutable record generated from a layout.

    Class attributes: ``TLV_TYPE`` (number), ``DOMAIN`` (relay domain), ``LAYOUT`` (fields and
    offsets), ``ORIGIN`` (``"upstream"`` for types byte-compatible with upstream v2,
    ``"alphapulse"`` for this project's DeFi extension). Instances are immutable (tuple-backed,
    see :meth:`mesh.protocol.layout.Layout.make_class`) and safe to share between threads;
    construct them by keyword, change them with :meth:`replace`.
    """

    __slots__ = ()
    TLV_TYPE: ClassVar[int]
    DOMAIN: ClassVar[RelayDomain]
    LAYOUT: ClassVar[Layout]
    ORIGIN: ClassVar[str]

    def replace(self, **changes: Any) -> Message:
        """A copy with ``changes`` applied."""
        return self._replace(**changes)  # type: ignore[attr-defined]

    def encode_value(self) -> bytes:
        """The TLV value bytes (without the TLV header)."""
        return type(self)._encode(self)  # type: ignore[attr-defined]

    def encode_tlv(self) -> bytes:
        """The whole TLV: header and value."""
        return type(self)._tlv(self)  # type: ignore[attr-defined]

    def to_json(self) -> dict[str, Any]:
        """Fields as JSON-ready values (big integers as decimal strings, bytes as hex)."""
        return {f.name: _value_to_json(f, getattr(self, f.name)) for f in self.LAYOUT.public}

    @classmethod
    def from_json(cls, fields: dict[str, Any]) -> Message:
        """Build a message from :meth:`to_json` output; unknown or malformed fields raise."""
        if not isinstance(fields, dict):
            raise BadFieldValue(f"{cls.__name__}: fields must be an object")
        known = {f.name: f for f in cls.LAYOUT.public}
        extra = set(fields) - set(known)
        if extra:
            raise BadFieldValue(f"{cls.__name__}: unknown fields {sorted(extra)}")
        values = {}
        for name, value in fields.items():
            try:
                values[name] = _value_from_json(known[name], value)
            except BadFieldValue as exc:
                raise BadFieldValue(f"{cls.__name__}.{name}: {exc}") from exc
        return cls(**values)


#: Message classes by TLV type number.
REGISTRY: dict[int, type[Message]] = {}
#: Message classes by name.
BY_NAME: dict[str, type[Message]] = {}


def message(number: int, name: str, fields: Sequence[Field], *, size: int, doc: str,
            packed: bool = False, origin: str = "upstream",
            domain: RelayDomain | None = None) -> type[Message]:
    """Declare and register a message type; its layout must add up to ``size`` bytes.

    ``size`` is the exact value length, or the minimum for a layout ending in a tail field.
    """
    if not 1 <= number <= 254:
        raise ValueError(f"{name}: type {number} outside 1..254")
    if number in REGISTRY or name in BY_NAME:
        raise ValueError(f"{name} ({number}) registered twice")
    layout = Layout(name, fields, packed=packed, size=size)
    ns = {"TLV_TYPE": number, "DOMAIN": domain or domain_of_type(number), "LAYOUT": layout,
          "ORIGIN": origin}
    cls: Any = layout.make_class(doc, bases=(Message,), namespace=ns)
    cls._decode = staticmethod(layout.compile_decoder(cls))
    cls._encode = staticmethod(layout.compile_encoder())
    if layout.tail:
        encode = cls._encode
        cls._tlv = staticmethod(lambda obj: tlv_bytes(number, encode(obj)))
    else:  # fixed size: the TLV header is a constant prefix
        cls._tlv = staticmethod(layout.compile_encoder(tlv_header(number, layout.size)))
    REGISTRY[number] = cls
    BY_NAME[name] = cls
    return cls


def record(name: str, fields: Sequence[Field], doc: str) -> Record:
    """A small packed layout used as a vector element; ``.cls`` is its dataclass."""
    return Record(name, fields, doc)


def _value_to_json(f: Field, value: Any) -> Any:
    kind = f.kind
    if isinstance(kind, Vec):
        elem = kind.elem
        if isinstance(elem, Record):
            return [{g.name: _value_to_json(g, getattr(v, g.name)) for g in elem.layout.public}
                    for v in value]
        return [elem.to_json(v) for v in value]  # type: ignore[union-attr]
    return kind.to_json(value)


def _value_from_json(f: Field, value: Any) -> Any:
    kind = f.kind
    if isinstance(kind, Vec):
        if not isinstance(value, list):
            raise BadFieldValue("expected a list")
        elem = kind.elem
        if isinstance(elem, Record):
            out = []
            for item in value:
                if not isinstance(item, dict):
                    raise BadFieldValue("expected a list of objects")
                known = {g.name: g for g in elem.layout.public}
                if set(item) - set(known):
                    raise BadFieldValue(f"unknown fields {sorted(set(item) - set(known))}")
                out.append(elem.cls(**{k: _value_from_json(known[k], v) for k, v in item.items()}))
            return tuple(out)
        return tuple(elem.from_json(v) for v in value)  # type: ignore[union-attr]
    return kind.from_json(value)
