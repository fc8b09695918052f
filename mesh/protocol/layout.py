"""One definition per message layout: fields in wire order, offsets computed by adding sizes.

A message type is declared once, as an ordered list of fields (:func:`message` in
``mesh.protocol.messages``). From that one list this module derives everything else: the byte
offsets (checked against the size the wire requires), a ``struct`` format, a frozen slotted
dataclass, generated encode and decode functions, the JSON conversion used by the command line,
the byte tables in the docs, and the offset constants the numba kernels read.

Field kinds (all little-endian, docs/wire-format.md "Conventions that hold everywhere"):

==========  ======  =============================================================
kind        bytes   Python value
==========  ======  =============================================================
u8..u64     1..8    int
i8..i64     1..8    int
u128/i128   16      int (two u64 halves on the wire, low half first)
u256        32      int (LE 256-bit; PoolSwap's sqrt price)
addr        20      bytes (bare address)
paddr       32      bytes (20-byte address + 12 zero bytes, "padded address")
raw(n)      n       bytes of exactly n
text(n)     n       str, UTF-8, zero-padded
pad(n)      n       none: written as zeros, ignored when read
count       1/2     none: the length of the vectors that name it, derived on encode
vec         n*elem  tuple of the elements that the count says are present
tail        rest    bytes: the variable remainder of the value (Snapshot data)
==========  ======  =============================================================
"""

from __future__ import annotations

import struct
from collections import namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mesh.protocol.errors import BadFieldValue

M64 = (1 << 64) - 1
_namedtuple: Any = namedtuple  # built from runtime names; type checkers read the .pyi stubs
ZERO_ADDRESS = bytes(20)

# ---------------------------------------------------------------------------------------------
# Field kinds


@dataclass(frozen=True)
class Field:
    """A named field: ``kind`` says how it is stored, ``doc`` says what it means."""

    name: str
    kind: Kind
    doc: str = ""


class Kind:
    """How one field is stored: struct codes, size, alignment and conversions.

    ``decode_src(i)`` returns a Python expression over the unpacked tuple ``t`` starting at
    item ``i``; ``encode_src(v)`` returns the expressions packed for value expression ``v``.
    """

    fmt: str = ""
    size: int = 0
    align: int = 1
    nitems: int = 1
    ctype: str = ""
    default: Any = 0
    hidden: bool = False

    def decode_src(self, i: int) -> str:
        """Expression that rebuilds the Python value from ``t[i:i+nitems]``."""
        return f"t[{i}]"

    def encode_src(self, v: str) -> list[str]:
        """Expressions that produce the packed items for the value ``v``."""
        return [v]

    def to_json(self, value: Any) -> Any:
        """The value as printed by ``alphapulse decode``."""
        return value

    def from_json(self, value: Any) -> Any:
        """The value read back by ``alphapulse encode``."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadFieldValue(f"expected an integer, got {value!r}")
        return value


class Int(Kind):
    """A fixed-width integer of up to 64 bits."""

    def __init__(self, code: str, ctype: str) -> None:
        self.fmt = code
        self.size = self.align = struct.calcsize("<" + code)
        self.ctype = ctype


class Wide(Kind):
    """A 128-bit integer stored as two u64 halves, low half first."""

    nitems = 2
    size = 16
    align = 16

    def __init__(self, signed: bool) -> None:
        self.fmt = "Qq" if signed else "QQ"
        self.ctype = "i128" if signed else "u128"

    def decode_src(self, i: int) -> str:
        return f"(t[{i}] | (t[{i + 1}] << 64))"

    def encode_src(self, v: str) -> list[str]:
        return [f"{v} & {M64}", f"{v} >> 64"]

    def to_json(self, value: Any) -> Any:
        return str(value)

    def from_json(self, value: Any) -> Any:
        return _int_from_json(value)


class U256(Kind):
    """An unsigned 256-bit integer stored as 32 little-endian bytes."""

    fmt = "32s"
    size = 32
    align = 1
    ctype = "u256"

    def decode_src(self, i: int) -> str:
        return f"_from_le(t[{i}], 'little')"

    def encode_src(self, v: str) -> list[str]:
        return [f"_u256({v})"]

    def to_json(self, value: Any) -> Any:
        return str(value)

    def from_json(self, value: Any) -> Any:
        return _int_from_json(value)


class Raw(Kind):
    """Exactly ``n`` bytes (addresses, identifiers, opaque blobs)."""

    def __init__(self, n: int, ctype: str, padded_to: int | None = None) -> None:
        self.n = n
        total = padded_to or n
        self.fmt = f"{n}s" + (f"{total - n}x" if total > n else "")
        self.size = total
        self.ctype = ctype
        self.default = bytes(n)

    def encode_src(self, v: str) -> list[str]:
        return [f"_exact({v}, {self.n})"]

    def to_json(self, value: Any) -> Any:
        return "0x" + value.hex()

    def from_json(self, value: Any) -> Any:
        return _bytes_from_json(value, self.n)


class Text(Kind):
    """A UTF-8 string in ``n`` zero-padded bytes."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.fmt = f"{n}s"
        self.size = n
        self.ctype = f"utf8[{n}]"
        self.default = ""

    def decode_src(self, i: int) -> str:
        return f"_text(t[{i}])"

    def encode_src(self, v: str) -> list[str]:
        return [f"_text_enc({v}, {self.n})"]

    def from_json(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise BadFieldValue(f"expected a string, got {value!r}")
        return value


class Pad(Kind):
    """``n`` zero bytes, ignored when read."""

    nitems = 0
    hidden = True

    def __init__(self, n: int) -> None:
        self.fmt = f"{n}x"
        self.size = n
        self.ctype = "padding"


class Count(Int):
    """The element count of the vectors that name it; derived from them on encode."""

    hidden = True


class TypedEquality:
    """Equality and hashing of tuple-backed records that also compare the type."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and tuple.__eq__(self, other)  # type: ignore[operator, arg-type]

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(self)))  # type: ignore[arg-type]


class Record:
    """A small fixed layout used as a vector element (OrderLevel, InstrumentId)."""

    def __init__(self, name: str, fields: Sequence[Field], doc: str) -> None:
        self.layout = Layout(name, fields, packed=True)
        self.cls = self.layout.make_class(doc, bases=(TypedEquality,))
        self.nitems = self.layout.nitems
        self.size = self.layout.size
        self.fmt = self.layout.fmt
        self.decode = self.layout.compile_tuple_decoder(self.cls)
        self.encode_items = self.layout.compile_item_encoder()


class Vec(Kind):
    """Up to ``n`` elements; the count field ``count`` (plus ``plus``) says how many are set."""

    default = ()

    def __init__(self, elem: Kind | Record, n: int, count: str, plus: int = 0) -> None:
        self.elem, self.n, self.count, self.plus = elem, n, count, plus
        self.fmt = elem.fmt * n
        self.nitems = elem.nitems * n
        self.size = elem.size * n
        self.align = getattr(elem, "align", 1)
        name = elem.layout.name if isinstance(elem, Record) else getattr(elem, "ctype", "?")
        self.ctype = f"{name}[{n}]"


class Tail(Kind):
    """The rest of the TLV value, of any length (must be the last field)."""

    fmt = ""
    nitems = 0
    size = 0
    ctype = "bytes[...]"
    default = b""

    def to_json(self, value: Any) -> Any:
        return value.hex()

    def from_json(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise BadFieldValue(f"expected hex text, got {value!r}")
        try:
            return bytes.fromhex(value.removeprefix("0x"))
        except ValueError as exc:
            raise BadFieldValue(f"bad hex {value[:40]!r}") from exc


def _int_from_json(value: Any) -> int:
    if isinstance(value, str):
        try:
            return int(value, 0)
        except ValueError as exc:
            raise BadFieldValue(f"expected an integer, got {value!r}") from exc
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadFieldValue(f"expected an integer, got {value!r}")
    return value


def _bytes_from_json(value: Any, n: int) -> bytes:
    if not isinstance(value, str):
        raise BadFieldValue(f"expected 0x-prefixed hex of {n} bytes, got {value!r}")
    try:
        raw = bytes.fromhex(value.removeprefix("0x"))
    except ValueError as exc:
        raise BadFieldValue(f"bad hex {value!r}") from exc
    return _exact(raw, n)


# Helpers the generated code calls.

def _exact(value: Any, n: int) -> bytes:
    if not isinstance(value, (bytes, bytearray)) or len(value) != n:  # a tuple: faster than a union
        raise BadFieldValue(f"expected {n} bytes, got {value!r}")
    return bytes(value)


def _u256(value: int) -> bytes:
    try:
        return value.to_bytes(32, "little")
    except (OverflowError, AttributeError) as exc:
        raise BadFieldValue(f"{value!r} is not a u256") from exc


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _text_enc(value: str, n: int) -> bytes:
    raw = value.encode("utf-8")
    if len(raw) > n:
        raise BadFieldValue(f"text of {len(raw)} bytes does not fit in {n}: {value!r}")
    return raw


# Constructors used by the message declarations.

def u8(name: str, doc: str = "") -> Field:
    """An unsigned 8-bit field."""
    return Field(name, Int("B", "u8"), doc)


def u16(name: str, doc: str = "") -> Field:
    """An unsigned 16-bit field."""
    return Field(name, Int("H", "u16"), doc)


def u32(name: str, doc: str = "") -> Field:
    """An unsigned 32-bit field."""
    return Field(name, Int("I", "u32"), doc)


def u64(name: str, doc: str = "") -> Field:
    """An unsigned 64-bit field."""
    return Field(name, Int("Q", "u64"), doc)


def i32(name: str, doc: str = "") -> Field:
    """A signed 32-bit field."""
    return Field(name, Int("i", "i32"), doc)


def i64(name: str, doc: str = "") -> Field:
    """A signed 64-bit field."""
    return Field(name, Int("q", "i64"), doc)


def u128(name: str, doc: str = "") -> Field:
    """An unsigned 128-bit field (two u64 halves)."""
    return Field(name, Wide(signed=False), doc)


def i128(name: str, doc: str = "") -> Field:
    """A signed 128-bit field (low u64, high i64)."""
    return Field(name, Wide(signed=True), doc)


def u256(name: str, doc: str = "") -> Field:
    """An unsigned 256-bit field in 32 LE bytes."""
    return Field(name, U256(), doc)


def addr(name: str, doc: str = "") -> Field:
    """A bare 20-byte address."""
    return Field(name, Raw(20, "address"), doc)


def paddr(name: str, doc: str = "") -> Field:
    """A 20-byte address followed by 12 zero bytes."""
    return Field(name, Raw(20, "address+pad12", padded_to=32), doc)


def raw(name: str, n: int, doc: str = "") -> Field:
    """Exactly ``n`` opaque bytes."""
    return Field(name, Raw(n, f"u8[{n}]"), doc)


def text(name: str, n: int, doc: str = "") -> Field:
    """A UTF-8 string in ``n`` zero-padded bytes."""
    return Field(name, Text(n), doc)


def pad(n: int) -> Field:
    """``n`` bytes of zero padding."""
    return Field("", Pad(n))


def count(name: str, code: str = "B", doc: str = "") -> Field:
    """A hidden element count (``B`` = u8, ``H`` = u16) derived from the vectors naming it."""
    return Field(name, Count(code, "u8" if code == "B" else "u16"), doc)


def vec(name: str, elem: Field | Record, n: int, count_field: str, plus: int = 0,
        doc: str = "") -> Field:
    """A vector of up to ``n`` elements whose length is ``count_field`` + ``plus``."""
    kind = elem if isinstance(elem, Record) else elem.kind
    return Field(name, Vec(kind, n, count_field, plus), doc)


def tail(name: str, doc: str = "") -> Field:
    """The variable remainder of the value."""
    return Field(name, Tail(), doc)


# ---------------------------------------------------------------------------------------------
# Layout


class Layout:
    """Fields in wire order with their offsets, and the code generated from them.

    Parameters
    ----------
    name : str
        Type name, used in messages and docs.
    fields : sequence of Field
        The fields in wire order, padding included.
    packed : bool
        True for ``#[repr(C, packed)]`` layouts: alignment is not checked.
    size : int, optional
        The size the wire requires; a mismatch raises ``ValueError`` at import time.
    """

    def __init__(self, name: str, fields: Sequence[Field], packed: bool = False,
                 size: int | None = None) -> None:
        self.name = name
        self.packed = packed
        self.fields = tuple(fields)
        self.offsets: dict[str, int] = {}
        offset = 0
        for f in self.fields:
            if not packed and offset % f.kind.align:
                raise ValueError(f"{name}.{f.name} at {offset} breaks alignment {f.kind.align}")
            if f.name:
                self.offsets[f.name] = offset
            offset += f.kind.size
        self.size = offset
        if size is not None and size != offset:
            raise ValueError(f"{name} declares {size} bytes but its fields add up to {offset}")
        self.tail = self.fields[-1].name if self.fields and isinstance(self.fields[-1].kind, Tail) else None
        if any(isinstance(f.kind, Tail) for f in self.fields[:-1]):
            raise ValueError(f"{name}: a tail field must be last")
        self.fmt = "".join(f.kind.fmt for f in self.fields)
        self.struct = struct.Struct("<" + self.fmt)
        assert self.struct.size == self.size, (name, self.struct.size, self.size)
        self.nitems = sum(f.kind.nitems for f in self.fields)
        self.public = tuple(f for f in self.fields if f.name and not f.kind.hidden)

    def offset(self, name: str) -> int:
        """Byte offset of field ``name`` inside the value."""
        return self.offsets[name]

    def make_class(self, doc: str, bases: tuple[type, ...], namespace: dict[str, Any] | None = None
                   ) -> type:
        """An immutable record class with one attribute per public field (defaults zero).

        The class is a tuple subclass built like ``collections.namedtuple``: construction by
        keyword or position, read-only attributes, ``_replace``. A frozen dataclass would cost
        1.2-1.7 µs to construct here against 0.2 µs for a tuple, which is most of the
        PoolSync decode budget (bench/protocol.py), so records are tuples; ``bases`` supply
        type-aware equality so two types with equal values never compare equal.
        """
        base = _namedtuple(self.name, [f.name for f in self.public],
                           defaults=[f.kind.default for f in self.public])
        ns = dict(namespace or {})
        ns.update(__doc__=doc, __slots__=())
        return type(self.name, (*bases, base), ns)

    # -- code generation ------------------------------------------------------------------

    def _item_index(self) -> dict[str, int]:
        index, i = {}, 0
        for f in self.fields:
            if f.name:
                index[f.name] = i
            i += f.kind.nitems
        return index

    def _decode_args(self, ns: dict[str, Any]) -> list[str]:
        index = self._item_index()
        args = []
        for f in self.public:
            i = index[f.name]
            kind = f.kind
            if isinstance(kind, Vec):
                ns[f"_v_{f.name}"] = _vector_decoder(self.name, f.name, kind, i)
                args.append(f"_v_{f.name}(t, t[{index[kind.count]}] + {kind.plus})")
            elif isinstance(kind, Tail):
                args.append("_tail")
            else:
                args.append(kind.decode_src(i))
        return args

    def compile_decoder(self, cls: type) -> Callable[[Any, int, int], Any]:
        """``decode(buf, off, length) -> cls`` for a value at ``buf[off:off+length]``."""
        ns: dict[str, Any] = {"_unpack": self.struct.unpack_from, "_cls": cls,
                              "_from_le": int.from_bytes, "_text": _text, "_new": tuple.__new__}
        args = self._decode_args(ns)
        tail = (f"    _tail = bytes(buf[off + {self.size}:off + length])\n" if self.tail else "")
        src = (f"def decode(buf, off, length):\n    t = _unpack(buf, off)\n{tail}"
               f"    return _new(_cls, ({', '.join(args)},))\n")
        exec(src, ns)
        return ns["decode"]

    def compile_tuple_decoder(self, cls: type) -> Callable[[Sequence[Any]], Any]:
        """``decode(items) -> cls`` from already unpacked items (vector elements)."""
        ns: dict[str, Any] = {"_cls": cls, "_from_le": int.from_bytes, "_text": _text,
                              "_new": tuple.__new__}
        src = f"def decode(t):\n    return _new(_cls, ({', '.join(self._decode_args(ns))},))\n"
        exec(src, ns)
        return ns["decode"]

    def _encode_items(self, ns: dict[str, Any]) -> list[str]:
        items: list[str] = []
        for f in self.fields:
            kind = f.kind
            if isinstance(kind, Pad | Tail):
                continue
            if isinstance(kind, Count):
                users = [(g.name, g.kind) for g in self.fields
                         if isinstance(g.kind, Vec) and g.kind.count == f.name]
                ns[f"_c_{f.name}"] = _count_encoder(self.name, f.name, users)
                items.append(f"_c_{f.name}(o)")
            elif isinstance(kind, Vec):
                ns[f"_v_{f.name}"] = _vector_encoder(self.name, f.name, kind)
                items.append(f"*_v_{f.name}(o.{f.name})")
            else:
                items.extend(kind.encode_src(f"o.{f.name}"))
        return items

    def compile_encoder(self, prefix: bytes = b"") -> Callable[[Any], bytes]:
        """``encode(obj) -> bytes``: ``prefix`` (a TLV header) plus the value bytes.

        Out-of-range or mistyped fields raise :class:`BadFieldValue` naming the type.
        """
        ns: dict[str, Any] = {"_pack": self.struct.pack, "_exact": _exact, "_u256": _u256,
                              "_text_enc": _text_enc, "_exact_tail": _tail_bytes,
                              "_prefix": prefix, "_fail": _encode_failure, "_name": self.name}
        items = self._encode_items(ns)
        tail = f" + _exact_tail(o.{self.tail})" if self.tail else ""
        head = "_prefix + " if prefix else ""
        src = (f"def encode(o):\n    try:\n        return {head}_pack({', '.join(items)}){tail}\n"
               "    except (_struct_error, TypeError, OverflowError) as exc:\n"
               "        raise _fail(_name, exc) from exc\n")
        ns["_struct_error"] = struct.error
        exec(src, ns)
        return self._compile_fast_encoder(prefix, ns["encode"]) or ns["encode"]

    def _compile_fast_encoder(self, prefix: bytes, checked: Callable[[Any], bytes]
                              ) -> Callable[[Any], bytes] | None:
        """The encoder of a fixed layout without per-field calls, or None (vectors, tails).

        The record is unpacked once into locals (no attribute lookups), the prefix is packed by
        the same struct, and address-like fields go to ``struct`` as they are (its ``s`` code
        takes bytes and bytearray only) behind one length guard. Anything the fast path does
        not accept is encoded again by ``checked``, which raises the precise error, so both
        accept and reject exactly the same values.
        """
        if any(isinstance(f.kind, Vec | Count | Tail) for f in self.fields):
            return None
        names = {f.name: f"_f{i}" for i, f in enumerate(self.public)}
        items = ["_prefix"] if prefix else []
        guards = []
        for f in self.fields:
            kind = f.kind
            if isinstance(kind, Pad):
                continue
            if isinstance(kind, Raw):
                items.append(names[f.name])
                guards.append(f"len({names[f.name]}) == {kind.n}")
            else:
                items.extend(kind.encode_src(names[f.name]))
        unpack = f"        {', '.join(names.values())}, = o\n" if names else ""
        body = f"_pack({', '.join(items)})"
        ret = (f"        if {' and '.join(guards)}:\n            return {body}\n" if guards
               else f"        return {body}\n")
        fmt = f"<{len(prefix)}s{self.fmt}" if prefix else "<" + self.fmt
        ns: dict[str, Any] = {"_pack": struct.Struct(fmt).pack, "_prefix": prefix, "_u256": _u256,
                              "_text_enc": _text_enc, "_checked": checked, "_struct_error": struct.error}
        src = (f"def encode(o):\n    try:\n{unpack}{ret}"
               "    except (_struct_error, TypeError, ValueError, OverflowError):\n        pass\n"
               "    return _checked(o)\n")
        exec(src, ns)
        return ns["encode"]

    def compile_item_encoder(self) -> Callable[[Any], tuple[Any, ...]]:
        """``items(obj) -> tuple``: the packed items of a record (vector element)."""
        ns: dict[str, Any] = {"_exact": _exact, "_u256": _u256, "_text_enc": _text_enc}
        src = f"def items(o):\n    return ({', '.join(self._encode_items(ns))},)\n"
        exec(src, ns)
        return ns["items"]


def _tail_bytes(value: Any) -> bytes:
    if not isinstance(value, bytes | bytearray):
        raise BadFieldValue(f"expected bytes, got {type(value).__name__}")
    return bytes(value)


def _encode_failure(name: str, exc: Exception) -> BadFieldValue:
    return BadFieldValue(f"{name}: a field is out of range or of the wrong type: {exc}")


def _vector_decoder(owner: str, name: str, kind: Vec, start: int) -> Callable[..., tuple[Any, ...]]:
    step = kind.elem.nitems
    elem = kind.elem
    if isinstance(elem, Record):
        def one(t: Sequence[Any], j: int) -> Any:
            return elem.decode(t[j:j + step])
    elif isinstance(elem, Wide):
        def one(t: Sequence[Any], j: int) -> Any:
            return t[j] | (t[j + 1] << 64)
    else:
        def one(t: Sequence[Any], j: int) -> Any:
            return t[j]

    def decode(t: Sequence[Any], n: int) -> tuple[Any, ...]:
        if n > kind.n:
            raise BadFieldValue(f"{owner}.{name}: count {n} exceeds capacity {kind.n}")
        return tuple(one(t, start + k * step) for k in range(n))
    return decode


def _vector_encoder(owner: str, name: str, kind: Vec) -> Callable[[Sequence[Any]], list[Any]]:
    elem = kind.elem
    zero: list[Any]
    if isinstance(elem, Record):
        zero = list(elem.encode_items(elem.cls()))
    else:
        zero = [0] * elem.nitems if not isinstance(elem, Raw) else [elem.default]

    def encode(values: Sequence[Any]) -> list[Any]:
        if len(values) > kind.n:
            raise BadFieldValue(f"{owner}.{name}: {len(values)} elements exceed capacity {kind.n}")
        out: list[Any] = []
        for v in values:
            if isinstance(elem, Record):
                out.extend(elem.encode_items(v))
            elif isinstance(elem, Wide):
                out.extend((v & M64, v >> 64))
            elif isinstance(elem, Raw):
                out.append(_exact(v, elem.n))
            else:
                out.append(v)
        out.extend(zero * (kind.n - len(values)))
        return out
    return encode


def _count_encoder(owner: str, name: str, users: list[tuple[str, Vec]]) -> Callable[[Any], int]:
    def encode(obj: Any) -> int:
        counts = {len(getattr(obj, v)) - k.plus for v, k in users}
        if len(counts) != 1:
            detail = ", ".join(f"{v}={len(getattr(obj, v))}" for v, _ in users)
            raise BadFieldValue(f"{owner}: vectors counted by {name} disagree ({detail})")
        n = counts.pop()
        if n < 0:
            raise BadFieldValue(f"{owner}: {name} would be negative")
        return n
    return encode
