"""``alphapulse trace``: the trace of one opportunity from an archive or from the live mesh."""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from typing import Any

from nodes.tracing.timeline import TraceBuilder, TraceNotFound

__all__ = ["cmd_trace", "from_archive", "live", "render_table"]

#: The domains whose frames a trace reads (ring domain names).
_DOMAINS = ("market-data", "signal", "execution")


def from_archive(path: str, oid: int) -> dict[str, Any]:
    """The trace of ``oid`` from the archive at ``path`` (raises ArchiveError, TraceNotFound)."""
    from nodes.archiver.read import iter_archive
    builder = TraceBuilder(oid, now_ns=time.time_ns())
    for f in iter_archive(path, domains=_DOMAINS):
        builder.see(f.frame, f.recv_ns)
    return builder.timeline()


def live(config: str | None, oid: int, timeout_s: float) -> dict[str, Any]:
    """The trace of ``oid`` once its final result crosses the mesh (journaled results it
    missed are back-filled from their publishers); TraceNotFound after ``timeout_s``."""
    import zmq

    from mesh.config import load_config
    from mesh.protocol import ArbitrageOpportunity, ExecutionResult
    from mesh.pubsub import Subscriber
    from mesh.topics import prefix

    cfg = load_config(config)
    secure = None
    if cfg.curve:
        from mesh.security import Security
        secure = Security(cfg, "operator").client
    ctx = zmq.Context()
    prefixes = [prefix(int(t.DOMAIN), t.TLV_TYPE) for t in (ArbitrageOpportunity, ExecutionResult)]
    sub = Subscriber(ctx, cfg, list(cfg.nodes), prefixes, secure=secure, lazy=True)
    builder = TraceBuilder(oid, now_ns=time.time_ns() + int(timeout_s * 1e9))
    deadline = time.monotonic() + timeout_s
    try:
        while not builder.done and time.monotonic() < deadline:
            d = sub.recv(200)
            if d is not None:
                builder.see(d.raw, None)
    finally:
        sub.close()
        ctx.term()
    if not builder.done:
        what = "its opportunity but no final result" if builder.opportunity or builder.results else "nothing"
        raise TraceNotFound(f"opportunity {oid}: {what} within {timeout_s:g} s")
    return builder.timeline()


def _utc(ns: int) -> str:
    t = datetime.datetime.fromtimestamp(ns // 10**9, datetime.UTC)
    return f"{t:%Y-%m-%d %H:%M:%S}.{ns % 10**9 // 1000:06d}"


def _ms(ns: int) -> str:
    return f"{ns / 1e6:+.3f}"


def render_table(trace: dict[str, Any]) -> str:
    """The trace as a table: hop, UTC time (µs), gap to the previous hop and since the first (ms)."""
    lines = [f"opportunity {trace['opportunity_id']}  trace {trace['trace_id'] or '-'}  {trace['status']}"
             + (f"  block {trace['block_number']}" if trace["block_number"] else "")
             + (f"  tx {trace['tx_hash']}" if trace["tx_hash"] else ""),
             f"{'hop':<24}{'time (UTC)':<28}{'gap ms':>12}{'total ms':>12}  from"]
    for h in trace["hops"]:
        lines.append(f"{h['hop']:<24}{_utc(h['ns']):<28}{_ms(h['gap_ns']):>12}{_ms(h['since_start_ns']):>12}"
                     f"  {h['origin']}")
    if trace["problems"]:
        lines.append("problems: " + ", ".join(trace["problems"]))
    return "\n".join(lines)


def cmd_trace(args: argparse.Namespace) -> int:
    """``alphapulse trace OPPORTUNITY_ID (--archive PATH | --live)``."""
    if args.archive is not None:
        trace = from_archive(args.archive, args.opportunity_id)
    else:
        trace = live(args.config, args.opportunity_id, args.timeout)
    sys.stdout.write((json.dumps(trace) if args.json else render_table(trace)) + "\n")
    return 0
