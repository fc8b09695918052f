"""``alphapulse decode``, ``encode`` and ``types``: the wire protocol at the command line.

The parsers are in :mod:`mesh.cli.commands`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

import orjson

from alphapulse.errors import AlphaPulseError
from mesh.protocol.constants import MAGIC_BYTES, RelayDomain
from mesh.protocol.errors import BadFieldValue, BadMagic, TruncatedFrame
from mesh.protocol.frame import decode_frame, split_frames
from mesh.protocol.jsonform import frame_from_json, frame_to_json
from mesh.protocol.registry import BY_NAME, REGISTRY


def _report(where: str, exc: AlphaPulseError) -> None:
    print(f"alphapulse: {where}: {type(exc).__name__}: {exc}", file=sys.stderr)


def _inputs(args: argparse.Namespace) -> Iterator[tuple[str, bytes | AlphaPulseError]]:
    """(label, frame bytes or the error that stands in for it) for every input frame."""
    if args.hex:
        for i, text in enumerate(args.hex):
            yield f"argument {i + 1}", _from_hex(text)
        return
    data = sys.stdin.buffer.read()
    if data.startswith(MAGIC_BYTES):
        spans, rest = split_frames(data)
        for offset, length in spans:
            if length < 0:
                yield f"byte {offset}", BadMagic(f"{-length} bytes that are not a frame", offset)
            else:
                yield f"byte {offset}", data[offset:offset + length]
        if rest < len(data):
            yield f"byte {rest}", TruncatedFrame(f"stream ends {len(data) - rest} bytes into a frame", rest)
        return
    for n, line in enumerate(data.splitlines(), 1):
        if line.strip():
            yield f"line {n}", _from_hex(line.decode("utf-8", "replace"))


def _from_hex(text: str) -> bytes | AlphaPulseError:
    cleaned = "".join(text.split()).removeprefix("0x")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        return BadFieldValue(f"not hex: {text.strip()[:40]!r}")


def run_decode(args: argparse.Namespace) -> int:
    """Print each frame as one JSON line; report bad frames on stderr and exit 2 if any."""
    failed = 0
    out = sys.stdout
    for where, item in _inputs(args):
        if isinstance(item, AlphaPulseError):
            _report(where, item)
            failed += 1
            continue
        try:
            frame = decode_frame(item, verify_checksum=not args.no_verify,
                                 allow_zero_checksum=args.allow_zero_checksum)
        except AlphaPulseError as exc:
            _report(where, exc)
            failed += 1
            continue
        out.write(orjson.dumps(frame_to_json(frame)).decode() + "\n")
    out.flush()
    return 2 if failed else 0


def run_encode(args: argparse.Namespace) -> int:
    """Print each JSON frame as hex; report bad ones on stderr and exit 2 if any."""
    lines = args.json if args.json else sys.stdin.read().splitlines()
    failed = 0
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            _report(f"line {n}", BadFieldValue(f"not JSON: {exc}"))
            failed += 1
            continue
        try:
            sys.stdout.write(frame_from_json(obj).hex() + "\n")
        except AlphaPulseError as exc:
            _report(f"line {n}", exc)
            failed += 1
    sys.stdout.flush()
    return 2 if failed else 0


def run_types(args: argparse.Namespace) -> int:
    """Print the registry, or one type's byte layout."""
    if args.layout:
        cls = BY_NAME.get(args.layout)
        if cls is None:
            raise BadFieldValue(f"no type named {args.layout!r}; see `alphapulse types`")
        layout = cls.LAYOUT
        print(f"{cls.__name__} (type {cls.TLV_TYPE}, {RelayDomain(cls.DOMAIN).name}, "
              f"{layout.size} bytes{' + tail' if layout.tail else ''})")
        offset = 0
        for f in layout.fields:
            print(f"  {offset:5d}  {f.kind.size:5d}  {f.kind.ctype:<14} {f.name or '(padding)'}"
                  f"{'  ' + f.doc if f.doc else ''}")
            offset += f.kind.size
        return 0
    for number, cls in sorted(REGISTRY.items()):
        row = {"type": number, "name": cls.__name__, "domain": RelayDomain(cls.DOMAIN).name,
               "size": cls.LAYOUT.size, "variable": bool(cls.LAYOUT.tail), "origin": cls.ORIGIN}
        if args.json:
            print(orjson.dumps(row).decode())
        else:
            size = f"{row['size']}+" if row["variable"] else str(row["size"])
            print(f"{number:4d}  {cls.__name__:<26} {row['domain']:<12} {size:>6}  {cls.ORIGIN}")
    return 0
