"""The subcommands the archiver contributes to ``alphapulse``: ``replay`` and ``archive``.

Named in the ``alphapulse.commands`` entry-point group (pyproject.toml); the commands'
module (:mod:`nodes.archiver.commands`) is imported only when one runs.
"""

from __future__ import annotations

import argparse

from mesh.cli import args as a

REPLAY_DOC = """Write an archive back: ring frames into a ring, ZeroMQ frames onto the mesh.

Ring frames go, byte for byte, to /ap.<ring_namespace>.<domain>.<--writer> (readers of the
domain find it by themselves); ZeroMQ frames are published as the node --as, which the mesh
configuration must declare. --speed 1 keeps the recorded pace, N is N times faster, max does
not wait. A bad archive prints one line and exits 2; Ctrl-C stops cleanly (exit 130).
See docs/archive.md.
"""


def domain_list(text: str) -> tuple[str, ...]:
    """``--domains``: comma-separated ring domain names (``market-data,signal``)."""
    from mesh.domains import parse_ring_domain, ring_domain
    try:
        return tuple(ring_domain(parse_ring_domain(d)) for d in text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def speed(text: str) -> float:
    """``--speed``: ``max`` or a positive factor."""
    from alphapulse.errors import ConfigError
    from nodes.archiver.replay import parse_speed
    try:
        return parse_speed(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register_replay(subparsers: argparse._SubParsersAction) -> None:
    """``replay ARCHIVE``: an archive back into rings and the mesh."""
    p = subparsers.add_parser("replay", help="write an archive back into rings and the mesh",
                              description=REPLAY_DOC,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_config_arg(p)
    p.add_argument("archive", help="archive root, a directory in it, or one .parquet part")
    p.add_argument("--speed", type=speed, default=1.0, help="1 (recorded pace), N, or max")
    p.add_argument("--domains", type=domain_list, default=None,
                   help="only these domains (comma-separated), default all")
    p.add_argument("--no-rings", action="store_true", help="skip frames archived from rings")
    p.add_argument("--no-mesh", action="store_true", help="skip frames archived from ZeroMQ")
    p.add_argument("--writer", type=a.name, default="replay",
                   help="writer name of the replay rings (default replay)")
    p.add_argument("--as", dest="as_name", type=a.name, default="replay",
                   help="mesh node that publishes ZeroMQ frames (default replay)")
    p.add_argument("--readers", type=a.count, default=0,
                   help="wait for this many readers of a ring before writing to it")
    p.add_argument("--linger", type=a.seconds, default=5.0,
                   help="at the end, wait this long at most for readers to catch up")
    p.add_argument("--settle", type=a.seconds, default=1.0,
                   help="after binding the publisher, wait this long for subscribers")
    a.defaults(p, "nodes.archiver.commands:cmd_replay", waits=True)


def register_archive(subparsers: argparse._SubParsersAction) -> None:
    """``archive stats PATH``: frames, bytes and compression of an archive."""
    p = subparsers.add_parser("archive", help="inspect an archive")
    sub = p.add_subparsers(dest="archive_command", required=True)
    s = sub.add_parser("stats", help="frames, raw and compressed bytes per domain")
    s.add_argument("archive", help="archive root, a directory in it, or one .parquet part")
    s.add_argument("--json", action="store_true", help="one JSON object")
    a.defaults(s, "nodes.archiver.commands:cmd_stats")
