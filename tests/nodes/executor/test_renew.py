"""What the executor does with a transaction that missed its block, and the relay path."""

from __future__ import annotations

import time

import pytest

from contracts.anvil import mine, set_automine
from contracts.relay import RelayServer
from mesh.protocol.constants import ExecutionStatus, SubmitPath
from nodes.executor.submit import PublicSubmitter, RelaySubmitter
from nodes.executor.validate import HeadView
from tests.nodes.executor.kit import executor_for, head_of, opportunities

pytestmark = pytest.mark.chain


def _receipt(ex, job, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        receipts = ex.receipts([job])
        found = next((r for h in job.hashes if (r := receipts.get(h)) is not None), None)
        if found is not None:
            return found
        time.sleep(0.02)
    raise AssertionError("not mined")


def _pending_nonce(net) -> int:
    return int(net.chain.rpc("eth_getTransactionCount", [net.chain.address, "pending"]), 16)


def test_an_underpriced_transaction_is_rebid_with_the_same_nonce_and_lands(net, tmp_path):
    ex = executor_for(net, tmp_path)
    opp, route = opportunities(net, tmp_path)[0]
    set_automine(net.chain, False)
    job = ex.admit(opp, route, b"", 1)
    ex.execute(job)
    ex.sent(job)
    first = job.tx_hash
    # The next block's base fee rose above the cap: the transaction cannot land as it is.
    head = head_of(net)
    pricey = HeadView(job.target_block, job.bid.max_fee + 1, head.priority_fee)
    assert ex.renew(job, pricey) == "bumped"
    assert job.nonce == _pending_nonce(net) - 1 and len(job.hashes) == 2 and job.tx_hash != first
    assert job.bid.max_fee > pricey.next_base_fee
    mine(net.chain)
    receipt = _receipt(ex, job)
    result, detail, *_spans = ex.settle(job, receipt)
    assert result.status == ExecutionStatus.INCLUDED and result.tx_hash == job.tx_hash != first
    assert detail.attempts == 2


def test_an_expired_transaction_is_cancelled_and_reported_dropped(net, tmp_path):
    ex = executor_for(net, tmp_path)
    opp, route = opportunities(net, tmp_path, valid_blocks=1)[0]
    set_automine(net.chain, False)
    job = ex.admit(opp, route, b"", 1)
    ex.execute(job)
    ex.sent(job)
    head = head_of(net)
    still = HeadView(job.target_block - 1, head.next_base_fee, head.priority_fee)
    assert ex.renew(job, still) == "waiting"  # valid and paying enough: it waits for its block
    late = HeadView(opp.valid_until_block, head.next_base_fee, head.priority_fee)
    assert ex.renew(job, late) == "cancelled"
    assert ex.renew(job, late) == "waiting"  # one cancel is enough
    mine(net.chain)
    receipt = _receipt(ex, job)
    assert receipt["to"].lower() == net.chain.address.lower()  # the cancel, not the trade
    result, detail, *_spans = ex.settle(job, receipt)
    assert result.status == ExecutionStatus.DROPPED and detail.error == "cancelled"
    assert result.realized_profit < 0  # the cancel's gas
    assert ex.busy_pools == {}


@pytest.mark.parametrize(("delay", "timeout", "path"), [(0.0, 2.0, SubmitPath.RELAY),
                                                     (5.0, 0.2, SubmitPath.RELAY_THEN_PUBLIC)])
def test_the_relay_path_lands_the_trade_and_falls_back_when_the_relay_is_silent(net, tmp_path, delay, timeout,
                                                                                 path):
    opp, route = opportunities(net, tmp_path)[0]
    with RelayServer(net.chain.url, delay_s=delay) as relay:
        ex = executor_for(net, tmp_path)
        ex.submitter = RelaySubmitter(relay.url, PublicSubmitter(net.chain), timeout_s=timeout)
        job = ex.admit(opp, route, b"", 1)
        ex.execute(job)
        assert job.path == path
        result, *_ = ex.settle(job, _receipt(ex, job))
        assert result.status == ExecutionStatus.INCLUDED
        assert (relay.stats.forwarded >= 1) == (path == SubmitPath.RELAY)
