"""``alphapulse nodes | status | stop | resume | keys`` (and ``tap``, from :mod:`mesh.cli.tap`).

* ``nodes``: the declared graph: every node kind's contract and who feeds whom.
* ``status``: the live mesh from heartbeats alone: node, state, age, versions, gaps, latch.
* ``stop --reason TEXT`` / ``resume``: set (clear) the same-host kill flag, then ask the risk
  node's service endpoint to latch (release) an emergency stop it announces in every beat.
* ``keys generate NAME`` / ``keys list``: CURVE key pairs (secret files 0600; never printed).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any, TypedDict

import orjson
import zmq

from alphapulse.errors import ConfigError, MeshError
from mesh.cli import tap
from mesh.config import MeshConfig, load_config
from mesh.protocol import EmergencyStop, Heartbeat, encode_frame
from mesh.protocol.constants import SUPPORTED_VERSIONS, NodeState, SourceType, StopReason
from mesh.pubsub import Subscriber
from mesh.security import Security, generate_keys
from mesh.stop import new_stop_id
from mesh.topics import prefix


class NoAnswer(MeshError):
    """A node's service endpoint did not answer in time."""

    kind = "no_answer"


def add_config_arg(p: argparse.ArgumentParser) -> None:
    """``--config PATH`` (default ``$ALPHAPULSE_CONFIG``, else built-in defaults)."""
    p.add_argument("--config", help="mesh TOML file (default: $ALPHAPULSE_CONFIG or defaults)")


def register(subparsers: Any) -> None:
    """Add the mesh subcommands."""
    p = subparsers.add_parser("nodes", help="print the declared node graph (contracts)")
    p.add_argument("--json", action="store_true", help="one JSON object per node kind")
    p.set_defaults(func=cmd_nodes)

    p = subparsers.add_parser("status", help="live mesh status from heartbeats")
    add_config_arg(p)
    p.add_argument("--seconds", type=float, default=None,
                   help="how long to listen (default: 3 heartbeat intervals)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    for name, helptext in (("stop", "raise and latch an emergency stop"),
                           ("resume", "release the latched emergency stop")):
        p = subparsers.add_parser(name, help=helptext)
        add_config_arg(p)
        if name == "stop":
            p.add_argument("--reason", required=True, help="why (at most 64 bytes)")
        p.add_argument("--node", default="risk", help="node that latches it (default: risk)")
        p.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for the node")
        p.set_defaults(func=cmd_stop if name == "stop" else cmd_resume)

    p = subparsers.add_parser("keys", help="CURVE key pairs for tcp endpoints")
    add_config_arg(p)
    ksub = p.add_subparsers(dest="keys_command", metavar="ACTION")
    ksub.required = True
    g = ksub.add_parser("generate", help="create NAME.key and NAME.key_secret (0600)")
    g.add_argument("name")
    g.add_argument("--dir", help="keys directory (default: the config's keys_dir)")
    g.add_argument("--force", action="store_true", help="replace existing files")
    g.set_defaults(func=cmd_keys_generate)
    lst = ksub.add_parser("list", help="list the listed (admitted) public keys")
    lst.add_argument("--dir", help="keys directory (default: the config's keys_dir)")
    lst.set_defaults(func=cmd_keys_list)

    tap.register(subparsers)


# -- nodes -----------------------------------------------------------------------------------


def cmd_nodes(args: argparse.Namespace) -> int:
    """Print every known node kind's contract and the edges between kinds."""
    from nodes.runtime.catalog import NODE_KINDS, load_node  # the CLI may import nodes

    contracts = [load_node(kind).CONTRACT for kind in NODE_KINDS]
    if args.json:
        for c in contracts:
            print(orjson.dumps(c.describe()).decode())
        return 0
    for c in contracts:
        d = c.describe()
        print(f"{c.kind}: {c.role}")
        print(f"  source    {d['source']}{'  (obeys emergency stop)' if c.obeys_stop else ''}")
        print(f"  consumes  {', '.join(d['consumes'])}")
        print(f"  produces  {', '.join(d['produces'])}")
        for key, spec in d["config"].items():
            print(f"  config    {key} = {spec['default']!r}  ({spec['doc']})")
    print("edges:")
    for src in contracts:
        for dst in contracts:
            shared = [t.__name__ for t in src.produces if t in dst.consumes]
            if shared and src is not dst:
                print(f"  {src.kind} -> {dst.kind}: {', '.join(shared)}")
    print("  every node -> every node: Heartbeat, EmergencyStop (system domain)")
    return 0


# -- status ----------------------------------------------------------------------------------


def _client_security(cfg: MeshConfig) -> Any:
    return Security(cfg, "operator").client if cfg.curve else None


def collect_heartbeats(cfg: MeshConfig, seconds: float) -> dict[str, dict[str, Any]]:
    """Listen to every configured node's heartbeats for ``seconds``; latest beat per node."""
    ctx = zmq.Context()
    sub = Subscriber(ctx, cfg, list(cfg.nodes), [prefix(4, Heartbeat.TLV_TYPE)],
                     recover_types=(), secure=_client_security(cfg))
    seen: dict[str, dict[str, Any]] = {}
    try:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            d = sub.recv(int(left * 1000) + 1)
            if d is None:
                continue
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


def cmd_status(args: argparse.Namespace) -> int:
    """Print one row per configured node from its latest heartbeat."""
    cfg = load_config(args.config)
    seconds = args.seconds if args.seconds is not None else 3 * cfg.heartbeat_ms / 1000 + 0.2
    seen = collect_heartbeats(cfg, seconds)
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
    if args.json:
        for r in rows:
            print(orjson.dumps(r).decode())
        return 0
    cols = ["node", "state", "pid", "age_ms", "versions", "frames_in", "frames_out", "gaps",
            "drops", "errors", "stop"]
    widths = {c: max(len(c), *(len(str(r.get(c, "-"))) for r in rows)) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        line = "  ".join(str(r.get(c, "-")).ljust(widths[c]) for c in cols)
        if r.get("version_mismatch"):
            line += "  VERSION MISMATCH"
        print(line)
    return 0


# -- stop / resume ---------------------------------------------------------------------------


def send_control(cfg: MeshConfig, node: str, stop: EmergencyStop, timeout: float) -> bytes:
    """Send a stop or resume to ``node``'s service endpoint; return its reply."""
    endpoint = cfg.node(node).service
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    try:
        secure = _client_security(cfg)
        if secure is not None:
            secure(sock, node, endpoint)
        sock.connect(endpoint)
        sock.send(encode_frame([stop], source=SourceType.DASHBOARD))
        if not sock.poll(int(timeout * 1000)):
            raise NoAnswer(f"{node} did not answer at {endpoint} within {timeout} s")
        return sock.recv()
    finally:
        sock.close(0)
        ctx.term()


def _kill_flag(cfg: MeshConfig):
    from nodes.runtime.kill_flag import KillFlag  # the CLI may import nodes

    return KillFlag(cfg.kill_flag_name)


def cmd_stop(args: argparse.Namespace) -> int:
    """Kill flag first (same host, nanoseconds), then the latch on the risk node."""
    if len(args.reason.encode()) > 64:
        raise ConfigError("--reason is longer than 64 bytes")
    cfg = load_config(args.config)
    stop_id = new_stop_id()
    flag = _kill_flag(cfg)
    flag.set(stop_id)
    flag.close()
    stop = EmergencyStop(stop_id=stop_id, timestamp_ns=time.time_ns(), raised_by_pid=os.getpid(),
                         reason_code=StopReason.MANUAL, latched=1, raised_by="operator",
                         reason=args.reason)
    try:
        reply = send_control(cfg, args.node, stop, args.timeout)
    except NoAnswer as exc:
        print(f"stop {stop_id}: kill flag set on this host; {exc}: the mesh is NOT informed")
        return 1
    print(f"stop {stop_id}: kill flag set; {args.node} replied {reply.decode(errors='replace')}")
    return 0 if reply.startswith(b"OK") else 1


def cmd_resume(args: argparse.Namespace) -> int:
    """Release the latch on the risk node, then clear the kill flag."""
    cfg = load_config(args.config)
    stop = EmergencyStop(latched=0, reason_code=StopReason.RESUME, raised_by="operator",
                         timestamp_ns=time.time_ns(), raised_by_pid=os.getpid())
    try:
        reply = send_control(cfg, args.node, stop, args.timeout)
    except NoAnswer as exc:
        print(f"resume: {exc}; kill flag left set")
        return 1
    flag = _kill_flag(cfg)
    flag.clear()
    flag.close()
    print(f"resume: kill flag cleared; {args.node} replied {reply.decode(errors='replace')}")
    return 0 if reply.startswith(b"OK") else 1


# -- keys ------------------------------------------------------------------------------------


def _keys_dir(args: argparse.Namespace) -> str:
    return args.dir or str(load_config(args.config).keys_path)


def cmd_keys_generate(args: argparse.Namespace) -> int:
    """Create a key pair; print the file names and the public key only."""
    public, secret = generate_keys(_keys_dir(args), args.name, force=args.force)
    print(f"public  {public}")
    print(f"secret  {secret} (mode 0600; never share or log it)")
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    """List the public keys in the keys directory (the admitted peers)."""
    import zmq.auth

    d = _keys_dir(args)
    if not os.path.isdir(d):
        raise ConfigError(f"no keys directory at {d}")
    for name in sorted(os.listdir(d)):
        if name.endswith(".key"):
            public, _ = zmq.auth.load_certificate(os.path.join(d, name))
            print(f"{name[:-4]:32} {public.decode()}")
    return 0
