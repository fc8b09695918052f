"""Known node kinds: kind -> ``module:Class``. Add a line here when you add a node."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from alphapulse.errors import ConfigError

if TYPE_CHECKING:
    from nodes.runtime.node import Node

NODE_KINDS: dict[str, str] = {
    "risk": "nodes.risk:RiskNode",
    "monitor": "nodes.monitor:MonitorNode",
    "collector-evm": "nodes.collector_evm:EvmCollectorNode",
    "collector-cex": "nodes.collector_cex:CexCollectorNode",
    "strategy": "nodes.strategy:StrategyNode",
    "cexdex": "nodes.cexdex:CexDexNode",
    "crosschain": "nodes.crosschain:CrossChainNode",
    "executor": "nodes.executor:ExecutorNode",
    "portfolio": "nodes.portfolio:PortfolioNode",
    "cex-gateway": "nodes.cex_gateway:CexGatewayNode",
    "archiver": "nodes.archiver.node:ArchiverNode",
    "process-events": "nodes.process_events:ProcessEventsNode",
    "bridge-out": "nodes.bridge:BridgeOutNode", "bridge-in": "nodes.bridge:BridgeInNode",
}


def load_node(spec: str) -> type[Node]:
    """The node class for a kind (``risk``) or a ``module:Class`` path."""
    target = NODE_KINDS.get(spec, spec)
    module, _, cls = target.partition(":")
    if not cls:
        raise ConfigError(f"unknown node kind {spec!r} (known: {', '.join(sorted(NODE_KINDS))})")
    try:
        return getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load node {target}: {exc}") from exc
