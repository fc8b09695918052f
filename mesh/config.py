"""Mesh configuration: one TOML file, sensible single-host defaults, ``ALPHAPULSE_*`` overrides.

A single host needs no file at all: every known node kind gets an ipc publisher endpoint and
an ipc service (recovery and control) endpoint under the run directory, and a Prometheus port
counted up from ``metrics_base_port``. A file (``--config PATH`` or ``ALPHAPULSE_CONFIG``)
overrides any of it::

    [mesh]
    run_dir = "/run/alphapulse"        # ipc sockets, key files, stop latch
    ring_namespace = "ap"              # prefix of shm segment names (rings, kill flag)
    ring_capacity = 4194304            # bytes of each ring a node writes (a power of two)
    sndhwm = 10000                     # ZMQ_SNDHWM of every publisher
    rcvhwm = 10000                     # ZMQ_RCVHWM of every subscriber
    io_threads = 1                     # libzmq I/O threads per process
    io_thread_cpus = []                # CPUs the I/O threads may use (empty: inherit)
    heartbeat_ms = 500                 # heartbeat interval of every node
    deadline_ms = 2000                 # a risk heartbeat older than this is a stop (0: off)
    journal_size = 4096                # frames journaled per must-not-lose stream publisher
    recovery_timeout_ms = 500          # how long a subscriber waits for recovered frames
    idle = "backoff"                   # run-loop idle strategy: spin | yield | backoff | sleep | block
    curve = false                      # CURVE on every endpoint
    keys_dir = ""                      # default: <run_dir>/keys
    metrics_base_port = 9100           # default metrics ports count up from here (0: none)
    default_nodes = true               # declare the default node kinds (tests: false)

    [nodes.risk]
    pub = "tcp://10.0.0.2:7101"        # where this node's PUB binds (others connect)
    service = "tcp://10.0.0.2:7201"    # ROUTER: recovery requests and stop/resume control
    metrics_port = 9101                # 0: no endpoint
    max_consecutive_failures = 3       # node-specific keys, declared in the node's contract

Environment overrides (applied after the file): ``ALPHAPULSE_<KEY>`` for every ``[mesh]`` key
(``ALPHAPULSE_RUN_DIR``, ``ALPHAPULSE_HEARTBEAT_MS``, ...) and
``ALPHAPULSE_NODE_<NODE>_<KEY>`` for node keys (node name upper-cased, ``-`` as ``_``).

Loaded configuration is immutable and safe to share between threads.
"""

from __future__ import annotations

import getpass
import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from alphapulse.errors import ConfigError

#: Nodes a single host runs by default (names; a name is its kind but for ``collector-evm-b``,
#: chain B's collector of kind ``collector-evm``); metrics ports count up in this order, so new
#: names go at the end.
DEFAULT_NODES: tuple[str, ...] = (
    "collector-evm", "collector-cex", "strategy", "executor", "risk", "portfolio",
    "archiver", "monitor", "cexdex", "cex-gateway", "process-events",
    "collector-evm-b", "crosschain",
)
_NODE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_RING_NAMESPACE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: The kinds of :class:`shm.idle.IdleStrategy` (not imported here: it pulls in numba).
_IDLE = ("spin", "yield", "backoff", "sleep", "block")


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """Endpoints and settings of one node.

    Attributes
    ----------
    name : str
        Node name (``[a-z][a-z0-9_-]{0,31}``), also the publisher id in topics.
    pub : str
        Endpoint the node's PUB socket binds.
    service : str
        Endpoint the node's ROUTER (recovery, stop/resume control) binds.
    metrics_port : int
        Prometheus port, 0 for none.
    settings : dict
        Node-specific keys (validated against the node's contract at start).
    """

    name: str
    pub: str
    service: str
    metrics_port: int = 0
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MeshConfig:
    """The whole mesh: shared settings and every node's endpoints."""

    run_dir: str
    ring_namespace: str = "ap"
    ring_capacity: int = 1 << 22
    sndhwm: int = 10_000
    rcvhwm: int = 10_000
    io_threads: int = 1
    io_thread_cpus: tuple[int, ...] = ()
    heartbeat_ms: int = 500
    deadline_ms: int = 2_000
    journal_size: int = 4_096
    recovery_timeout_ms: int = 500
    idle: str = "backoff"
    curve: bool = False
    keys_dir: str = ""
    metrics_base_port: int = 9100
    default_nodes: bool = True
    nodes: Mapping[str, NodeConfig] = field(default_factory=dict)

    def node(self, name: str) -> NodeConfig:
        """The configuration of node ``name``; raises :class:`ConfigError` if it is not declared."""
        try:
            return self.nodes[name]
        except KeyError:
            raise ConfigError(f"node {name!r} is not in the mesh configuration "
                            f"(known: {', '.join(sorted(self.nodes)) or 'none'})") from None

    @property
    def keys_path(self) -> Path:
        """Directory holding CURVE key files."""
        return Path(self.keys_dir or os.path.join(self.run_dir, "keys"))

    @property
    def kill_flag_name(self) -> str:
        """Name of the same-host shared-memory kill flag segment."""
        return f"/{self.ring_namespace}-kill"


_MESH_KEYS = {f.name: f for f in fields(MeshConfig) if f.name != "nodes"}


def default_run_dir() -> str:
    """``$XDG_RUNTIME_DIR/alphapulse`` if set, else ``<tmp>/alphapulse-<user>``."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return os.path.join(xdg, "alphapulse")
    return os.path.join(tempfile.gettempdir(), f"alphapulse-{getpass.getuser()}")


def _bad(key: str, value: Any, like: Any) -> ConfigError:
    return ConfigError(f"{key}: {value!r} is not a valid {type(like).__name__}")


def _coerce(key: str, value: Any, like: Any) -> Any:
    """Coerce ``value`` (from TOML or an env string) to the type of the default ``like``."""
    if isinstance(like, bool):
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise _bad(key, value, like)
    if isinstance(like, int):
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise _bad(key, value, like)
        try:
            return int(value)
        except ValueError:
            raise _bad(key, value, like) from None
    if isinstance(like, tuple):
        if isinstance(value, str):
            value = [v for v in value.replace(",", " ").split() if v]
        try:
            return tuple(int(v) for v in value)
        except (TypeError, ValueError):
            raise _bad(key, value, like) from None
    if isinstance(like, str) and not isinstance(value, str):
        raise _bad(key, value, like)
    return value


def _default_node(name: str, index: int, run_dir: str, base_port: int) -> NodeConfig:
    return NodeConfig(name, pub=f"ipc://{run_dir}/{name}.pub",
                      service=f"ipc://{run_dir}/{name}.svc",
                      metrics_port=base_port + index if base_port else 0)


def _env_name(node: str) -> str:
    return node.upper().replace("-", "_")


def load_config(path: str | os.PathLike[str] | None = None,
                env: Mapping[str, str] | None = None) -> MeshConfig:
    """Load the mesh configuration.

    Parameters
    ----------
    path : path, optional
        TOML file; defaults to ``$ALPHAPULSE_CONFIG``; with neither, built-in defaults.
    env : mapping, optional
        Environment for overrides (default ``os.environ``).

    Raises
    ------
    ConfigError
        Unreadable file, bad TOML, unknown ``[mesh]`` key, bad value or node name.
    """
    env = os.environ if env is None else env
    path = path or env.get("ALPHAPULSE_CONFIG") or None
    doc: dict[str, Any] = {}
    if path:
        try:
            with open(path, "rb") as fh:
                doc = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
    mesh_doc = dict(doc.get("mesh", {}))
    unknown = set(mesh_doc) - set(_MESH_KEYS)
    if unknown:
        raise ConfigError(f"unknown [mesh] keys: {', '.join(sorted(unknown))}")
    for key in _MESH_KEYS:
        if f"ALPHAPULSE_{key.upper()}" in env:
            mesh_doc[key] = env[f"ALPHAPULSE_{key.upper()}"]
    values: dict[str, Any] = {"run_dir": default_run_dir()}
    probe = MeshConfig(run_dir="")
    for key, value in mesh_doc.items():
        values[key] = _coerce(key, value, getattr(probe, key))
    if values.get("idle", "backoff") not in _IDLE:
        raise ConfigError(f"idle: {values['idle']!r} is not one of {', '.join(_IDLE)}")
    for key in ("sndhwm", "rcvhwm", "io_threads", "heartbeat_ms", "deadline_ms",
                "journal_size", "recovery_timeout_ms"):
        floor = 0 if key.endswith("hwm") or key == "deadline_ms" else 1
        if key in values and values[key] < floor:
            raise ConfigError(f"{key}: {values[key]} is out of range")
    if not _RING_NAMESPACE.match(str(values.get("ring_namespace", "ap"))):
        raise ConfigError(f"ring_namespace: {values['ring_namespace']!r} must be 1-64 characters "
                          "of [A-Za-z0-9_-]")
    capacity = values.get("ring_capacity", 1 << 22)
    if capacity < 1 << 12 or capacity > 1 << 30 or capacity & (capacity - 1):
        raise ConfigError(f"ring_capacity: {capacity} is not a power of two in [4096, 2^30]")
    cfg = MeshConfig(**values)
    node_docs: dict[str, dict[str, Any]] = {n: {} for n in DEFAULT_NODES} \
        if cfg.default_nodes else {}
    for name, body in dict(doc.get("nodes", {})).items():
        if not isinstance(body, dict):
            raise ConfigError(f"[nodes.{name}] must be a table")
        node_docs[name] = dict(body)
    nodes: dict[str, NodeConfig] = {}
    prefixes = {n: f"ALPHAPULSE_NODE_{_env_name(n)}_" for n in node_docs}
    for index, (name, body) in enumerate(node_docs.items()):
        if not _NODE_NAME.match(name):
            raise ConfigError(f"node name {name!r} must match {_NODE_NAME.pattern}")
        prefix = prefixes[name]
        # A longer name's prefix wins: COLLECTOR_EVM_B_X is collector-evm-b's, not collector-evm's.
        longer = [p for p in prefixes.values() if len(p) > len(prefix) and p.startswith(prefix)]
        for key, value in env.items():
            if key.startswith(prefix) and not any(key.startswith(p) for p in longer):
                body[key[len(prefix):].lower()] = value
        base = _default_node(name, index + 1, cfg.run_dir, cfg.metrics_base_port)
        pub = _coerce(f"{name}.pub", body.pop("pub", base.pub), "")
        service = _coerce(f"{name}.service", body.pop("service", base.service), "")
        port = _coerce(f"{name}.metrics_port", body.pop("metrics_port", base.metrics_port), 0)
        if not 0 <= port <= 65535:
            raise ConfigError(f"{name}.metrics_port: {port} is out of range")
        nodes[name] = NodeConfig(name, pub, service, port, dict(body))
    return replace(cfg, nodes=nodes)


def ipc_paths(cfg: MeshConfig, node: str) -> list[str]:
    """Filesystem paths of ``node``'s ipc endpoints (to create their directory and unlink)."""
    nc = cfg.node(node)
    return [ep[len("ipc://"):] for ep in (nc.pub, nc.service) if ep.startswith("ipc://")]
