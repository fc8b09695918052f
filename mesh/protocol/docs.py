"""Render the byte tables of every message type as Markdown (``docs/protocol-types.md``).

``python -m mesh.protocol.docs > docs/protocol-types.md`` regenerates the file; a test fails
when the committed file differs, so the docs cannot drift from the layouts.
"""

from __future__ import annotations

import sys

from mesh.protocol.constants import RelayDomain
from mesh.protocol.layout import Record, Vec
from mesh.protocol.registry import REGISTRY, Message

_INTRO = """# AlphaPulse message types: byte tables

Generated from the layouts in `mesh/protocol/messages/` by `python -m mesh.protocol.docs`;
do not edit by hand. All integers little-endian; u128/i128 are two u64 halves, low first;
`address+pad12` is a 20-byte address followed by 12 zero bytes. Padding is written as zeros
and ignored when read. "count" fields are not set by hand: they are the length of the vectors
that name them. Section numbers (§) refer to `docs/wire-format.md`, the upstream wire format;
versioning rules are in `docs/protocol-versioning.md`.
"""


def _table(cls: type[Message]) -> list[str]:
    layout = cls.LAYOUT
    size = f"{layout.size} bytes" + (" + variable tail" if layout.tail else "")
    lines = [f"### {cls.TLV_TYPE} {cls.__name__} ({RelayDomain(cls.DOMAIN).name}, {size}"
             f"{', packed' if layout.packed else ''})", "",
             (cls.__doc__ or "").strip(), "", "| Off | Size | Type | Field | Meaning |",
             "|---|---|---|---|---|"]
    offset = 0
    for f in layout.fields:
        kind = f.kind
        doc = f.doc
        if isinstance(kind, Vec):
            doc = f"{doc}; length = {kind.count}{f' + {kind.plus}' if kind.plus else ''}".lstrip("; ")
            if isinstance(kind.elem, Record):
                parts = ", ".join(f"{g.name} {g.kind.ctype}" for g in kind.elem.layout.fields if g.name)
                doc += f"; element ({kind.elem.size} B): {parts}"
        name = f.name or "padding"
        if f.kind.hidden and f.name:
            name += " (count)"
        lines.append(f"| {offset} | {kind.size or '…'} | {kind.ctype} | {name} | {doc} |")
        offset += kind.size
    return [*lines, ""]


def render_markdown() -> str:
    """The full Markdown document."""
    out = [_INTRO]
    for title, origin in (("Upstream types (byte-compatible with AlphaPulse v2)", "upstream"),
                          ("AlphaPulse DeFi extension", "alphapulse")):
        out += [f"## {title}", ""]
        for _, cls in sorted(REGISTRY.items()):
            if origin == cls.ORIGIN:
                out += _table(cls)
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_markdown())
