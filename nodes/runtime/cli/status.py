"""``alphapulse status``: the live mesh from heartbeats, ring slots and process events.

One row per configured node (and any other node heard): state, age of its latest beat,
protocol versions, frame and error counters, the latched stop, and its rings: frames written
to its own rings, frames read and lost on the rings it reads (from the reader slots of the
host's rings, matched to nodes by the pid in their heartbeats).

Under supervisord, the process-events node repeats every program's latest ``ProcessEvent``
once per heartbeat interval; then a second table shows each supervised program: its
supervisord state, pid, restarts, how many times it entered that state, and how long ago it
last changed (crashes show as restarts, BACKOFF and FATAL). With ``--json`` a node's row
carries that as ``program``, and a program that is not a node (the devnet, the local exchange,
the simulator) gets a row of its own with state ``PROGRAM``. The parser is in
:mod:`nodes.runtime.cli`.
"""

from __future__ import annotations

import argparse
import time
from typing import Any, TypedDict

import orjson
import zmq

from mesh.cli.control import client_security
from mesh.config import MeshConfig, load_config
from mesh.protocol import Heartbeat, ProcessEvent
from mesh.protocol.constants import SUPPORTED_VERSIONS, NodeState, ProcessState
from mesh.pubsub import Subscriber
from mesh.topics import prefix


def collect_heartbeats(cfg: MeshConfig, seconds: float,
                       programs: dict[str, ProcessEvent] | None = None) -> dict[str, dict[str, Any]]:
    """Listen to every configured node's heartbeats for ``seconds``; latest beat per node.

    ``programs``, when given, receives the latest ProcessEvent heard of each program.
    """
    ctx = zmq.Context()
    sub = Subscriber(ctx, cfg, list(cfg.nodes), [prefix(4, Heartbeat.TLV_TYPE),
                                                prefix(4, ProcessEvent.TLV_TYPE)],
                     recover_types=(), secure=client_security(cfg))
    seen: dict[str, dict[str, Any]] = {}
    try:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            d = sub.recv(int(left * 1000) + 1)
            if d is None:
                continue
            if programs is not None:
                _fold_programs(programs, d.frame.tlvs)
            hb = d.frame.first(Heartbeat)
            if not isinstance(hb, Heartbeat):  # None; first() returns only this exact type
                continue
            seen[hb.node or d.topic.publisher] = {"hb": hb, "received_ns": time.time_ns(),
                                                  "gaps_seen": 0}
        for stream, st in sub.tracker.streams.items():
            name = stream.rsplit(b"/", 1)[-1].rstrip(b":").decode(errors="replace")
            if name in seen:
                seen[name]["gaps_seen"] = len(st.missing)
    finally:
        sub.close()
        ctx.term()
    return seen


def _fold_programs(programs: dict[str, ProcessEvent], tlvs: Any) -> None:
    for ev in tlvs:
        if isinstance(ev, ProcessEvent) and ev.program:
            old = programs.get(ev.program)
            if old is None or (ev.timestamp_ns, ev.serial) >= (old.timestamp_ns, old.serial):
                programs[ev.program] = ev


def program_row(ev: ProcessEvent, now_ns: int) -> dict[str, Any]:
    """What ``status`` shows of one supervised program."""
    state = ProcessState(ev.state).name if ev.state in ProcessState._value2member_map_ \
        else str(ev.state)
    return {"program": ev.program, "state": state, "pid": ev.pid,
            "restarts": max(0, ev.starts - 1), "count": ev.count,
            "changed_s_ago": round((now_ns - ev.timestamp_ns) / 1e9, 1)}


class StatusRow(TypedDict, total=False):
    """One ``status`` row; a silent node has only ``node`` and ``state``."""

    node: str
    state: str
    pid: int
    age_ms: float
    versions: str
    version_mismatch: bool
    frames_in: int
    frames_out: int
    gaps: int
    drops: int
    errors: int
    stop: int
    uptime_s: float
    ring_written: int
    ring_read: int
    ring_lost: int
    rings: list[dict[str, Any]]
    program: dict[str, Any]


def ring_rows(namespace: str, pids: dict[int, str]) -> dict[str, list[dict[str, Any]]]:
    """Per node name: its rings, as writer (frames written) and as reader (read, lost).

    Writers are known by ring name, readers by the pid in their slot (``pids``: pid -> node).
    Rings of other namespaces count when one of ``pids`` writes them (a node with a
    ``ring_namespace`` of its own, such as chain B's collector). Rings that vanish or are not
    rings while being read are skipped.
    """
    from shm.errors import RingError
    from shm.inspect import ring_info
    from shm.segment import list_ring_names

    out: dict[str, list[dict[str, Any]]] = {}
    for name in list_ring_names(None):
        try:
            info = ring_info(name)
        except RingError:
            continue
        if name.namespace != namespace and pids.get(info.writer_pid) != info.writer:
            continue
        out.setdefault(info.writer, []).append(
            {"ring": info.name, "role": "writer", "frames": info.frames_written,
             "alive": info.writer_alive})
        for r in info.readers:
            node = pids.get(r.pid)
            if node is not None and r.alive:
                out.setdefault(node, []).append(
                    {"ring": info.name, "role": "reader", "frames": r.frames_read,
                     "lost": r.frames_lost, "lag_frames": r.lag_frames})
    return out


def cmd_status(args: argparse.Namespace) -> int:
    """Print one row per configured node from its latest heartbeat."""
    cfg = load_config(args.config)
    seconds = args.seconds if args.seconds is not None else 3 * cfg.heartbeat_ms / 1000 + 0.2
    programs: dict[str, ProcessEvent] = {}
    seen = collect_heartbeats(cfg, seconds, programs)
    now = time.time_ns()
    rows: list[StatusRow] = []
    for name in sorted(set(cfg.nodes) | set(seen)):
        entry = seen.get(name)
        if entry is None:
            rows.append({"node": name, "state": "SILENT"})
            continue
        hb: Heartbeat = entry["hb"]
        speaks = set(range(hb.min_version, hb.max_version + 1))
        rows.append({
            "node": name, "state": NodeState(hb.state).name if hb.state in
            NodeState._value2member_map_ else str(hb.state), "pid": hb.pid,
            "age_ms": round((now - hb.timestamp_ns) / 1e6, 1),
            "versions": f"{hb.min_version}-{hb.max_version}",
            "version_mismatch": not speaks & set(SUPPORTED_VERSIONS),
            "frames_in": hb.frames_in, "frames_out": hb.frames_out, "gaps": hb.gaps,
            "drops": hb.drops, "errors": hb.errors,
            "stop": hb.stop_id if hb.stop_latched else 0,
            "uptime_s": round((hb.timestamp_ns - hb.started_ns) / 1e9, 1),
        })
    rings = ring_rows(cfg.ring_namespace, {r["pid"]: r["node"] for r in rows if "pid" in r})
    for row in rows:
        mine = rings.get(row["node"], [])
        if mine:
            row["rings"] = mine
            row["ring_written"] = sum(x["frames"] for x in mine if x["role"] == "writer")
            row["ring_read"] = sum(x["frames"] for x in mine if x["role"] == "reader")
            row["ring_lost"] = sum(x["lost"] for x in mine if x["role"] == "reader")
    procs = {name: program_row(ev, now) for name, ev in sorted(programs.items())}
    for row in rows:
        if row["node"] in procs:
            row["program"] = procs[row["node"]]
    if args.json:
        for r in rows:
            print(orjson.dumps(r).decode())
        for name, proc in procs.items():
            if name not in {r["node"] for r in rows}:
                print(orjson.dumps({"node": name, "state": "PROGRAM", "program": proc}).decode())
        return 0
    cols = ["node", "state", "pid", "age_ms", "versions", "frames_in", "frames_out", "gaps",
            "drops", "errors", "stop", "ring_written", "ring_read", "ring_lost"]
    widths = {c: max(len(c), *(len(str(r.get(c, "-"))) for r in rows)) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        line = "  ".join(str(r.get(c, "-")).ljust(widths[c]) for c in cols)
        if r.get("version_mismatch"):
            line += "  VERSION MISMATCH"
        print(line)
    if procs:
        print()
        _print_table(["program", "state", "pid", "restarts", "count", "changed_s_ago"],
                     list(procs.values()))
    return 0


def _print_table(cols: list[str], rows: list[dict[str, Any]]) -> None:
    widths = {c: max(len(c), *(len(str(r.get(c, "-"))) for r in rows)) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        print("  ".join(str(r.get(c, "-")).ljust(widths[c]) for c in cols))
