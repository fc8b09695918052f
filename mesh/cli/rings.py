"""``alphapulse rings``: list a namespace's shared-memory rings, their readers' lag and losses.

Examples::

    alphapulse rings                      # rings of $ALPHAPULSE_NAMESPACE (or "default")
    alphapulse rings --namespace mesh1 --json
    alphapulse rings --all --watch 1      # every namespace, refreshed each second
    alphapulse rings /ap.mesh1.md.evm     # one segment (a bad one exits 2 naming it)
    alphapulse rings --all --leftovers [--remove]

A segment that is not a ring, or of another layout version, is an error naming the segment
(exit status 2).
"""

from __future__ import annotations

import argparse
import sys
import time

import orjson

from shm.errors import NotARing
from shm.inspect import RingInfo, find_leftovers, list_rings, remove_leftovers, ring_info
from shm.segment import RingName, default_namespace


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``rings`` subcommand."""
    p = subparsers.add_parser("rings", help="list shared-memory rings, readers' lag and losses",
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("segment", nargs="?", help="one segment name (/ap.NS.DOMAIN.WRITER)")
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("--namespace", "-n", help="mesh namespace (default: $ALPHAPULSE_NAMESPACE"
                       " or 'default')")
    scope.add_argument("--all", action="store_true", help="every namespace on this host")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    p.add_argument("--watch", nargs="?", type=float, const=1.0, metavar="SECONDS",
                   help="refresh every SECONDS (default 1) until interrupted")
    p.add_argument("--iterations", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--leftovers", action="store_true",
                   help="list rings nobody uses any more (dead writer and readers)")
    p.add_argument("--remove", action="store_true", help="with --leftovers: unlink them")
    p.set_defaults(func=run)


def _collect(args: argparse.Namespace) -> list[RingInfo]:
    if args.segment:
        name = RingName.parse(args.segment)
        if name is None:
            raise NotARing(f"segment {args.segment} is not a ring (not an /ap.NS.DOMAIN.WRITER name)")
        return [ring_info(name)]
    return list_rings(None if args.all else (args.namespace or default_namespace()))


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}s"


def format_rings(rings: list[RingInfo]) -> str:
    """The human table: one line per ring, one indented line per reader."""
    if not rings:
        return "(no rings)"
    lines = [f"{'RING':<36} {'WRITER':>12} {'EPOCH':>5} {'CAPACITY':>9} {'FILL':>5} "
             f"{'WRITTEN':>12} MODE"]
    for r in rings:
        writer = f"{r.writer_pid}{'' if r.writer_alive else ' dead'}"
        mode = "lossless" if r.lossless else "broadcast"
        lines.append(f"{r.namespace + '/' + r.domain + '/' + r.writer:<36} {writer:>12} "
                     f"{r.epoch:>5} {r.capacity:>9} {r.fill:>5.0%} {r.frames_written:>12} {mode}")
        for rd in r.readers:
            state = "" if rd.alive else " dead"
            lines.append(f"    reader slot {rd.slot:<3} pid {rd.pid}{state}  lag {rd.lag_frames} "
                         f"frames / {rd.lag_bytes} B  read {rd.frames_read}  lost "
                         f"{rd.frames_lost}  seen {_age(rd.last_seen_s)} ago  epoch {rd.epoch}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the rings once, or repeatedly with ``--watch``; return the exit status."""
    if args.leftovers:
        ns = None if args.all else (args.namespace or default_namespace())
        names = remove_leftovers(ns) if args.remove else find_leftovers(ns)
        if args.json:
            print(orjson.dumps([n.shm_name for n in names]).decode())
        else:
            verb = "removed" if args.remove else "leftover"
            print("\n".join(f"{verb} {n.shm_name}" for n in names) or "(no leftovers)")
        return 0
    iteration = 0
    while True:
        rings = _collect(args)
        if args.json:
            print(orjson.dumps([r.as_dict() for r in rings]).decode(), flush=True)
        else:
            if args.watch and sys.stdout.isatty():
                print("\x1b[H\x1b[2J", end="")
            print(format_rings(rings), flush=True)
        iteration += 1
        if not args.watch or (args.iterations and iteration >= args.iterations):
            return 0
        time.sleep(args.watch)
