"""``alphapulse stop`` and ``resume``: the kill flag on this host, the latch on the risk node.

``stop --reason TEXT`` sets the same-host kill flag (nanoseconds), then asks the risk node's
service endpoint to latch an emergency stop it announces in every heartbeat; ``resume``
releases the latch, then clears the flag. The parsers are in :mod:`mesh.cli.commands`.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import zmq

from alphapulse.errors import ConfigError, MeshError
from mesh.config import MeshConfig, load_config
from mesh.protocol import EmergencyStop
from mesh.protocol.constants import StopReason
from mesh.security import Security
from mesh.stop import encode_control_stop, new_stop_id
from shm.kill_flag import KillFlag


class NoAnswer(MeshError):
    """A node's service endpoint did not answer in time."""

    kind = "no_answer"
    #: The stop whose latch could not be sent (its kill flag is set), 0 for a resume.
    stop_id: int = 0


def client_security(cfg: MeshConfig) -> Any:
    """The operator's CURVE client setup when the mesh uses CURVE, else None."""
    return Security(cfg, "operator").client if cfg.curve else None


def send_control(cfg: MeshConfig, node: str, stop: EmergencyStop, timeout: float) -> bytes:
    """Send a stop or resume to ``node``'s service endpoint; return its reply."""
    endpoint = cfg.node(node).service
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    try:
        secure = client_security(cfg)
        if secure is not None:
            secure(sock, node, endpoint)
        sock.connect(endpoint)
        sock.send(encode_control_stop(stop))
        if not sock.poll(int(timeout * 1000)):
            raise NoAnswer(f"{node} did not answer at {endpoint} within {timeout} s")
        return sock.recv()
    finally:
        sock.close(0)
        ctx.term()


def _kill_flag(cfg: MeshConfig) -> KillFlag:
    return KillFlag(cfg.kill_flag_name)


def raise_stop(cfg: MeshConfig, node: str, reason: str, timeout: float) -> tuple[int, bytes]:
    """Set this host's kill flag, then latch a manual stop on ``node``; ``(stop_id, reply)``.

    Raises
    ------
    ConfigError
        ``reason`` is longer than 64 bytes (nothing is set).
    NoAnswer
        ``node`` did not answer: the kill flag is set, the mesh is not informed.
    """
    if len(reason.encode()) > 64:
        raise ConfigError("the reason is longer than 64 bytes")
    stop_id = new_stop_id()
    flag = _kill_flag(cfg)
    flag.set(stop_id)
    flag.close()
    stop = EmergencyStop(stop_id=stop_id, timestamp_ns=time.time_ns(), raised_by_pid=os.getpid(),
                         reason_code=StopReason.MANUAL, latched=1, raised_by="operator",
                         reason=reason)
    try:
        return stop_id, send_control(cfg, node, stop, timeout)
    except NoAnswer as exc:
        exc.stop_id = stop_id
        raise


def release_stop(cfg: MeshConfig, node: str, timeout: float) -> bytes:
    """Release the latch on ``node``, then clear this host's kill flag; ``node``'s reply.

    Raises
    ------
    NoAnswer
        ``node`` did not answer: the kill flag is left set.
    """
    stop = EmergencyStop(latched=0, reason_code=StopReason.RESUME, raised_by="operator",
                         timestamp_ns=time.time_ns(), raised_by_pid=os.getpid())
    reply = send_control(cfg, node, stop, timeout)
    flag = _kill_flag(cfg)
    flag.clear()
    flag.close()
    return reply


def cmd_stop(args: argparse.Namespace) -> int:
    """Kill flag first (same host, nanoseconds), then the latch on the risk node."""
    if len(args.reason.encode()) > 64:
        raise ConfigError("--reason is longer than 64 bytes")
    cfg = load_config(args.config)
    try:
        stop_id, reply = raise_stop(cfg, args.node, args.reason, args.timeout)
    except NoAnswer as exc:
        print(f"stop {exc.stop_id}: kill flag set on this host; {exc}: the mesh is NOT informed")
        return 1
    print(f"stop {stop_id}: kill flag set; {args.node} replied {reply.decode(errors='replace')}")
    return 0 if reply.startswith(b"OK") else 1


def cmd_resume(args: argparse.Namespace) -> int:
    """Release the latch on the risk node, then clear the kill flag."""
    cfg = load_config(args.config)
    try:
        reply = release_stop(cfg, args.node, args.timeout)
    except NoAnswer as exc:
        print(f"resume: {exc}; kill flag left set")
        return 1
    print(f"resume: kill flag cleared; {args.node} replied {reply.decode(errors='replace')}")
    return 0 if reply.startswith(b"OK") else 1
