"""Freeze the frames of newly released types (run once per release that adds types).

``python -m tests.protocol.freeze`` writes ``tests/fixtures/protocol/release-<N>.jsonl`` with one
frame for every registered type that no earlier release file holds, with distinctive values in
every field, as hex and as decoded JSON. Released files are never rewritten:
``test_frozen_frames`` exists to fail when a released layout changes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

from mesh.protocol import REGISTRY, decode_frame, encode_frame
from mesh.protocol.jsonform import frame_to_json
from mesh.protocol.layout import U256, Count, Int, Raw, Record, Tail, Text, Vec, Wide

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "protocol"


def _value(kind, seed: int):
    if isinstance(kind, Wide):
        v = (seed * 0x0123456789ABCDEF0FEDCBA987654321) % (1 << 127)
        return -v if kind.ctype == "i128" and seed % 2 else v
    if isinstance(kind, U256):
        return (seed * 0x9E3779B97F4A7C15F39CC0605CEDC834) % (1 << 255)
    if isinstance(kind, Raw):
        return bytes((seed * 7 + i) % 256 for i in range(kind.n))
    if isinstance(kind, Text):
        return f"node-{seed}"[: kind.n]
    if isinstance(kind, Tail):
        return bytes(range(seed % 50, seed % 50 + 40))
    if isinstance(kind, Int):
        bits = kind.size * 8
        v = (seed * 0x9E3779B1) % (1 << (bits - 1))
        return -v if kind.fmt.islower() and seed % 2 else v
    raise AssertionError(kind)


def sample(cls):
    """A deterministic instance of ``cls`` with every field set."""
    counts = {f.name: min(g.kind.n - g.kind.plus for g in cls.LAYOUT.fields
                          if isinstance(g.kind, Vec) and g.kind.count == f.name) - 1
              for f in cls.LAYOUT.fields if isinstance(f.kind, Count)}
    values = {}
    for i, f in enumerate(cls.LAYOUT.public):
        seed = cls.TLV_TYPE * 100 + i + 1
        if isinstance(f.kind, Vec):
            n = max(counts[f.kind.count], 1) + f.kind.plus
            elem = f.kind.elem
            if isinstance(elem, Record):
                values[f.name] = tuple(
                    elem.cls(**{g.name: _value(g.kind, seed + j * 10 + m)
                                for m, g in enumerate(elem.layout.public)}) for j in range(n))
            else:
                values[f.name] = tuple(_value(elem, seed + j) for j in range(n))
        else:
            values[f.name] = _value(f.kind, seed)
    return cls(**values)


def released() -> list[dict]:
    """Every frozen row of every release file, oldest release first."""
    files = sorted(FIXTURES.glob("release-*.jsonl"), key=lambda p: int(p.stem.split("-")[1]))
    return [orjson.loads(line) for path in files for line in path.read_text().splitlines() if line]


def main() -> int:
    """Write the next release file with the types not frozen yet."""
    frozen = {row["type"] for row in released()}
    fresh = [(n, c) for n, c in sorted(REGISTRY.items()) if c.__name__ not in frozen]
    if not fresh:
        print("every registered type is frozen already", file=sys.stderr)
        return 0
    path = FIXTURES / f"release-{len(list(FIXTURES.glob('release-*.jsonl'))) + 1}.jsonl"
    lines = []
    for number, cls in fresh:
        frame = encode_frame([sample(cls)], source=20, sequence=number,
                             timestamp_ns=1_700_000_000_000_000_000 + number)
        lines.append(orjson.dumps({"type": cls.__name__, "hex": frame.hex(),
                                   "frame": frame_to_json(decode_frame(frame))}).decode())
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} frames to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
