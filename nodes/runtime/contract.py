"""A node's contract: what it consumes and produces, the rings it uses, its configuration keys.

The contract is data, declared once on the node class (``CONTRACT``); the runtime subscribes
from it, validates configuration against it, ``alphapulse nodes`` prints the graph from it, and
the contract test harness (:mod:`nodes.runtime.testing`) checks every frame a node emits
against it. Every node also produces ``Heartbeat`` (and ``EmergencyStop`` when it latches a
stop) and consumes both from the system domain: the runtime adds those.

Contracts are immutable and safe to share.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from alphapulse.errors import ConfigError
from mesh.domains import ring_domain
from mesh.protocol import EmergencyStop, Heartbeat, Message
from mesh.protocol.constants import RelayDomain, SourceType

#: Produced and consumed by every node through the runtime.
RUNTIME_TYPES: tuple[type[Message], ...] = (Heartbeat, EmergencyStop)

#: Keys every node accepts, read by the runtime itself (not declared in contracts):
#: ``idle`` (the run loop's idle strategy, default the mesh's), ``ring_namespace`` (the
#: namespace of the rings the node writes and of the writers it reads, default the mesh's
#: ``ring_namespace``) and ``ring_namespaces`` (extra namespaces whose writers of each read
#: domain the node also reads; default none). Resolved settings always hold the two ring keys.
RUNTIME_KEYS = frozenset({"idle", "ring_namespace", "ring_namespaces"})
_NAMESPACE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class ConfigKey:
    """One node-specific configuration key: its default (which fixes its type) and meaning."""

    default: Any
    doc: str


@dataclass(frozen=True, slots=True)
class Contract:
    """What a node kind consumes, produces and reads from configuration.

    Attributes
    ----------
    kind : str
        Node kind, also its default name in the mesh configuration.
    role : str
        One line: what the node does.
    source : SourceType
        Written in the header of every frame it publishes.
    consumes, produces : tuple of message classes
        Message types beyond the runtime's own (Heartbeat, EmergencyStop).
    config : mapping of str to ConfigKey
    obeys_stop : bool
        The node halts on an emergency stop, the kill flag and the dead man's switch
        (executors, strategies): its heartbeat then reports ``HALTED``.
    writes : tuple of RelayDomain
        Domains whose frames the node writes to a shared-memory ring of its own (one ring
        per writer: ``/ap.<ring_namespace>.<domain>.<node name>``), instead of ZeroMQ.
    reads : tuple of RelayDomain
        Domains whose rings the node reads: every writer's ring of the domain on the host,
        also writers that appear later or restart.
    """

    kind: str
    role: str
    source: SourceType
    consumes: tuple[type[Message], ...] = ()
    produces: tuple[type[Message], ...] = ()
    config: Mapping[str, ConfigKey] = field(default_factory=dict)
    obeys_stop: bool = False
    writes: tuple[RelayDomain, ...] = ()
    reads: tuple[RelayDomain, ...] = ()

    @property
    def all_consumes(self) -> tuple[type[Message], ...]:
        """Consumed types including the runtime's."""
        return tuple(dict.fromkeys((*self.consumes, *RUNTIME_TYPES)))

    @property
    def all_produces(self) -> tuple[type[Message], ...]:
        """Produced types including the runtime's."""
        return tuple(dict.fromkeys((*self.produces, *RUNTIME_TYPES)))

    def domains(self, produced: bool) -> list[str]:
        """Names of the domains of the produced (or consumed) types."""
        types = self.all_produces if produced else self.all_consumes
        return sorted({RelayDomain(t.DOMAIN).name.lower() for t in types})

    def resolve_settings(self, given: Mapping[str, Any], node: str) -> dict[str, Any]:
        """Every declared key's value: ``given`` (from configuration, coerced to the type of
        the default) over the defaults, plus the runtime's own keys (:data:`RUNTIME_KEYS`:
        ``ring_namespace`` is ``""`` and ``ring_namespaces`` ``()`` unless given).

        Raises
        ------
        ConfigError
            An undeclared key, a value that is not of its key's type, or a bad ring namespace.
        """
        unknown = set(given) - set(self.config) - RUNTIME_KEYS
        if unknown:
            raise ConfigError(f"node {node}: unknown configuration keys "
                              f"{', '.join(sorted(unknown))}")
        out: dict[str, Any] = {k: v.default for k, v in self.config.items()}
        out["ring_namespace"] = _namespaces(node, "ring_namespace",
                                            given.get("ring_namespace", ""), single=True)
        out["ring_namespaces"] = _namespaces(node, "ring_namespaces",
                                             given.get("ring_namespaces", ()))
        for key, value in given.items():
            if key in ("ring_namespace", "ring_namespaces"):
                continue
            like = self.config[key].default if key in self.config else ""
            try:
                out[key] = type(like)(value) if not isinstance(like, bool) else \
                    str(value).lower() in ("1", "true", "yes", "on")
            except (TypeError, ValueError):
                raise ConfigError(f"node {node}: {key}={value!r} is not a "
                                  f"{type(like).__name__}") from None
        return out

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description (``alphapulse nodes --json``)."""
        def names(ts: tuple[type[Message], ...]) -> list[str]:
            return [f"{RelayDomain(t.DOMAIN).name.lower()}/{t.__name__}({t.TLV_TYPE})"
                    for t in ts]
        return {
            "kind": self.kind, "role": self.role, "source": SourceType(self.source).name,
            "consumes": names(self.all_consumes), "produces": names(self.all_produces),
            "config": {k: {"default": v.default, "doc": v.doc} for k, v in self.config.items()},
            "obeys_stop": self.obeys_stop,
            "writes_rings": [ring_domain(d) for d in self.writes],
            "reads_rings": [ring_domain(d) for d in self.reads],
        }


def _namespaces(node: str, key: str, value: Any, single: bool = False) -> Any:
    """A ring namespace (``single``: ``""`` for the mesh's) or a tuple of distinct ones, from
    a TOML string or list, or an environment string (names split on commas or spaces)."""
    if single:
        if not isinstance(value, str) or (value and not _NAMESPACE.match(value)):
            raise ConfigError(f"node {node}: {key}={value!r} is not a ring namespace "
                              "(1-64 characters of [A-Za-z0-9_-])")
        return value
    items = value.replace(",", " ").split() if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(
            isinstance(v, str) and _NAMESPACE.match(v) for v in items):
        raise ConfigError(f"node {node}: {key}={value!r} is not a list of ring namespaces "
                          "(each 1-64 characters of [A-Za-z0-9_-])")
    return tuple(dict.fromkeys(items))
