"""Real opportunities from the strategy on the worker's devnet, and an executor over them."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from contracts.signer import FastSigner
from mesh.protocol import ArbitrageOpportunity
from mesh.protocol.messages import ArbitrageRoute
from nodes.executor import ExecutorNode
from nodes.executor.engine import Executor
from nodes.executor.journal import Journal
from nodes.executor.policy import load_policy
from nodes.executor.submit import PublicSubmitter
from nodes.executor.validate import HeadView
from nodes.strategy.publish import opportunity_frame
from tests.nodes.strategy.pipeline import Stream, engine_for

#: The executor's defaults, as the node reads them.
DEFAULTS: dict[str, Any] = {k: v.default for k, v in ExecutorNode.CONTRACT.config.items()}


def opportunities(net, tmp_path: Path, valid_blocks: int = 3, valid_ms: int = 60_000
                  ) -> list[tuple[ArbitrageOpportunity, ArbitrageRoute]]:
    """What the strategy publishes for the devnet's mispricing, best first."""
    stream = Stream(net)
    stream.follower.start()
    engine = engine_for(net, tmp_path)
    found = sorted(engine.feed_frames(stream.new_frames()), key=lambda o: -o.profit)
    assert found, "no opportunity on the mispriced devnet"
    now = time.time_ns()
    return [tuple(opportunity_frame(o, engine.evaluator, now // 10**6, 1, o.block + valid_blocks,
                                    now + valid_ms * 10**6)) for o in found]  # type: ignore[misc]


def head_of(net) -> HeadView:
    """The devnet's newest block and the fees for the next."""
    from contracts.fees import next_base_fee_of
    head = net.chain.head("latest")
    return HeadView(head.number, next_base_fee_of(head), net.chain.priority_fee())


def executor_for(net, tmp_path: Path, *, halted=lambda: False, journal: Path | None = None,
                 **settings: Any) -> Executor:
    """An executor trading on the devnet from its owner account."""
    manifest_path = tmp_path / "manifest.json"
    manifest_path.write_text(json.dumps(net.manifest))
    policy = load_policy({**DEFAULTS, "recipient": net.recipient, **settings}, net.manifest, net.chain.chain_id)
    ex = Executor(net.chain, net.arb, policy, Journal(journal or tmp_path / "journal.db"),
                  FastSigner(net.chain.account, net.chain.chain_id), PublicSubmitter(net.chain), halted)
    ex.head = head_of(net)
    return ex


def tampered(opp: ArbitrageOpportunity, **fields: Any) -> ArbitrageOpportunity:
    """A copy of ``opp`` with ``fields`` changed."""
    return opp.replace(**fields)
