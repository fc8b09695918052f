"""``alphapulse rings``: the listing, the watch loop and leftovers (parser in :mod:`mesh.cli.commands`)."""

from __future__ import annotations

import argparse
import sys
import time

import orjson

from shm.errors import NotARing
from shm.inspect import RingInfo, find_leftovers, list_rings, remove_leftovers, ring_info
from shm.segment import RingName, default_namespace


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
