"""The strategy fed by the real collector's frames, in-process: for tests on the devnet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from contracts.events import registry_from_manifest
from contracts.factories import factories_from_manifest
from nodes.collector_evm.follower import ChainFollower
from nodes.strategy.book import PoolBook
from nodes.strategy.deployment import load_deployment
from nodes.strategy.engine import Engine
from nodes.strategy.evaluate import Evaluator
from nodes.strategy.graph import CycleGraph
from nodes.strategy.screen import Screen
from tests.nodes.collector_evm.recorder import Recorder

SETTINGS: dict[str, Any] = {
    "manifest": "", "rpc_url": "", "recipient": "", "profit_tokens": "WETH,USDC,DAI",
    "native_token": "WETH", "usd_token": "USDC",
}


def engine_for(net, tmp_path: Path, *, max_hops: int = 4, word_radius: int = 8, **evaluator: Any) -> Engine:
    """An engine over the worker's devnet (its manifest written to ``tmp_path``)."""
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(net.manifest))
    dep, profit, _ = load_deployment({**SETTINGS, "manifest": str(path), "recipient": net.recipient}, "")
    book = PoolBook(64, 512, word_radius)
    graph = CycleGraph(profit, max_hops)
    evaluator.setdefault("max_sizing_ns", 60 * 10**9)  # tests compare every candidate: no budget
    return Engine(book, graph, Evaluator(book, graph, dep, **evaluator), Screen())


class Stream:
    """The collector's follower on the devnet, its frames kept for the strategy."""

    def __init__(self, net, word_radius: int = 8) -> None:
        self.rec = Recorder()
        self.follower = ChainFollower(net.chain, registry_from_manifest(net.manifest),
                                      factories_from_manifest(net.manifest), self.rec.sink, self.rec.count,
                                      word_radius=word_radius)
        self.taken = 0

    def new_frames(self) -> list[bytes]:
        """Frames written since the last call."""
        out = self.rec.frames[self.taken:]
        self.taken = len(self.rec.frames)
        return out
