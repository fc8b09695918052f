"""Hypothesis strategies that build any registered message from its layout."""

from __future__ import annotations

from hypothesis import strategies as st

from mesh.protocol.layout import U256, Count, Int, Raw, Record, Tail, Text, Vec, Wide

_INT_BOUNDS = {"B": (0, 2**8 - 1), "H": (0, 2**16 - 1), "I": (0, 2**32 - 1),
               "Q": (0, 2**64 - 1), "b": (-(2**7), 2**7 - 1), "h": (-(2**15), 2**15 - 1),
               "i": (-(2**31), 2**31 - 1), "q": (-(2**63), 2**63 - 1)}


def _kind(kind):
    if isinstance(kind, Wide):
        if kind.ctype == "i128":
            return st.integers(-(2**127), 2**127 - 1)
        return st.integers(0, 2**128 - 1)
    if isinstance(kind, U256):
        return st.integers(0, 2**256 - 1)
    if isinstance(kind, Raw):
        return st.binary(min_size=kind.n, max_size=kind.n)
    if isinstance(kind, Text):
        return st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)),
                       max_size=kind.n).filter(lambda s: len(s.encode()) <= kind.n)
    if isinstance(kind, Tail):
        return st.binary(max_size=300)
    if isinstance(kind, Int):
        lo, hi = _INT_BOUNDS[kind.fmt]
        return st.integers(lo, hi)
    raise AssertionError(kind)


def _element(elem):
    if isinstance(elem, Record):
        fields = {f.name: _kind(f.kind) for f in elem.layout.public}
        return st.builds(elem.cls, **fields)
    return _kind(elem)


@st.composite
def messages(draw, cls):
    """Any valid instance of message class ``cls``."""
    fields = cls.LAYOUT.fields
    counts = {}
    for f in fields:
        if isinstance(f.kind, Count):
            room = min(g.kind.n - g.kind.plus for g in fields
                       if isinstance(g.kind, Vec) and g.kind.count == f.name)
            counts[f.name] = draw(st.integers(0, room))
    values = {}
    for f in cls.LAYOUT.public:
        if isinstance(f.kind, Vec):
            n = counts[f.kind.count] + f.kind.plus
            values[f.name] = tuple(draw(st.lists(_element(f.kind.elem), min_size=n, max_size=n)))
        else:
            values[f.name] = draw(_kind(f.kind))
    return cls(**values)
