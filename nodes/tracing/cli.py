"""``alphapulse trace OPPORTUNITY_ID``: registered in the ``alphapulse.commands`` entry-point
group (pyproject.toml); :mod:`nodes.tracing.command` is imported only when it runs."""

from __future__ import annotations

import argparse

from mesh.cli import args as a

TRACE_DOC = """Print one opportunity's path through the mesh: each hop's time and the gap to the next.

Hops: collector received (the block's head), collector closed block, ring written, strategy
published, executor received / checked / simulated / signed / sent, included, result
published. From an archive (--archive PATH: the archiver's Parquet directory) or live
(--live: wait on the mesh for the opportunity's final result, --timeout seconds). A table by
default, one JSON object with --json. An unknown id, a bad archive or a timeout prints one
line and exits 2. See docs/tracing.md.
"""


def opportunity_id(text: str) -> int:
    """An opportunity id: a whole number 1..2^64-1 (decimal, or 0x hex)."""
    try:
        value = int(text.strip(), 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"opportunity id must be a whole number, not {text!r}") from None
    if not 0 < value < 2**64:
        raise argparse.ArgumentTypeError(f"opportunity id must be 1..2^64-1, not {value}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """``trace OPPORTUNITY_ID``: one opportunity's hops, from the archive or live."""
    p = subparsers.add_parser("trace", help="one opportunity's hops and their gaps (archive or live)",
                              description=TRACE_DOC, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_config_arg(p)
    p.add_argument("opportunity_id", type=opportunity_id, help="the ArbitrageOpportunity's opportunity_id")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--archive", metavar="PATH", help="archive root, a directory in it, or one .parquet part")
    where.add_argument("--live", action="store_true", help="subscribe to the mesh until the final result")
    p.add_argument("--timeout", type=a.positive_seconds, default=60.0,
                   help="--live: seconds to wait for the final result (default 60)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    a.defaults(p, "nodes.tracing.command:cmd_trace", waits="live")
