"""The executor's engine on the devnet: what it sends is what the chain pays; what it refuses it
refuses before signing; nothing is executed twice; a halt stops it between steps."""

from __future__ import annotations

import time

import pytest

from contracts.arbitrage import Trade
from mesh.protocol import ExecutionDetail, ExecutionResult
from mesh.protocol.constants import ExecutionStatus, PoolKind, RejectReason
from nodes.executor.validate import Refused
from tests.nodes.executor.kit import executor_for, opportunities, tampered

pytestmark = pytest.mark.chain


def _settle(ex, job):
    deadline = time.monotonic() + 10  # anvil answers a send before its automine block is mined
    while (receipt := ex.receipts([job])[job.hashes[-1]]) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert receipt is not None, "automine: mined within 10 s"
    name = ex.revert_of(job, receipt) if receipt["status"] != "0x1" else ""
    return ex.settle(job, receipt, name)


def test_an_opportunity_is_simulated_signed_sent_and_pays_what_it_predicted(net, tmp_path):
    ex = executor_for(net, tmp_path)
    opp, route = opportunities(net, tmp_path)[0]
    job = ex.admit(opp, route, b"frame", 1)
    ex.execute(job)
    submitted = ex.sent(job)
    assert submitted[0].status == ExecutionStatus.SUBMITTED and submitted[0].tx_hash == job.tx_hash
    result, detail, *spans = _settle(ex, job)
    assert isinstance(result, ExecutionResult) and isinstance(detail, ExecutionDetail)
    assert result.status == ExecutionStatus.INCLUDED, detail.error
    # b"frame" carries no trace: the executor starts one at the opportunity's arrival
    assert [(s.span_depth, s.start_timestamp_ns) for s in spans] == [(0, job.received_ns)]
    trade = Trade.decode(route.trade)
    if all(h.kind == PoolKind.UNISWAP_V2 for h in trade.hops):
        assert detail.chain_profit == detail.predicted_gross == job.gross
    assert detail.chain_profit > 0 and result.gas_used > 0
    assert result.realized_profit == detail.chain_profit - -(-route.gas_cost * detail.gas_paid_wei
                                                            // (opp.gas_estimate * opp.gas_price_wei))
    assert detail.gas_paid_wei == result.gas_used * result.effective_gas_price_wei
    assert detail.received_ns <= detail.validated_ns <= detail.simulated_ns <= detail.signed_ns <= detail.sent_ns
    assert result.gas_used <= detail.gas_limit and result.effective_gas_price_wei <= detail.max_fee_per_gas


def test_the_same_opportunity_is_refused_the_second_time_also_after_a_restart(net, tmp_path):
    journal = tmp_path / "j.db"
    ex = executor_for(net, tmp_path, journal=journal)
    opp, route = opportunities(net, tmp_path)[0]
    ex.admit(opp, route, b"", 1)
    with pytest.raises(Refused) as again:
        ex.admit(opp, route, b"", 2)
    assert again.value.reason == RejectReason.DUPLICATE
    ex.journal.close()
    restarted = executor_for(net, tmp_path, journal=journal)
    with pytest.raises(Refused) as after:
        restarted.admit(opp, route, b"", 3)
    assert after.value.reason == RejectReason.DUPLICATE


def _refused(ex, opp, route) -> RejectReason:
    with pytest.raises(Refused) as exc:
        ex.admit(opp, route, b"", 1)
    return exc.value.reason


def test_hostile_or_inconsistent_opportunities_are_refused_by_reason(net, tmp_path):
    ex = executor_for(net, tmp_path)
    opp, route = opportunities(net, tmp_path)[0]
    trade = Trade.decode(route.trade)
    stranger = bytes.fromhex(net.stranger.address[2:])
    other_recipient = route.replace(trade=trade.__class__(
        trade.hops, trade.amount_in, trade.lender, trade.source, trade.min_profit, net.stranger.address,
        trade.lender_tokens, trade.borrow_token1, trade.lender_fee, trade.lender_factory).encode())
    cases = {
        RejectReason.RECIPIENT_NOT_ALLOWED: (opp, other_recipient),
        RejectReason.MALFORMED: (tampered(opp, amount_in=opp.amount_in + 1), route),
        RejectReason.WRONG_CHAIN: (tampered(opp, chain_id=opp.chain_id + 1), route),
        RejectReason.STRATEGY_NOT_ALLOWED: (tampered(opp, strategy_id=9), route),
        RejectReason.EXPIRED_BLOCK: (tampered(opp, valid_until_block=ex.head.number), route),
        RejectReason.EXPIRED_TIME: (tampered(opp, valid_until_ns=1), route),
        RejectReason.PROFIT_ABOVE_LIMIT: (tampered(opp, net_profit_usd_q8=2**62), route),
    }
    cases[RejectReason.MALFORMED + 100] = (tampered(opp, flash_lender=stranger), route)  # type: ignore[operator]
    for expected, (o, r) in cases.items():
        got = _refused(ex, o, r)
        assert got == (RejectReason.MALFORMED if expected > 100 else expected), (expected, got)
    assert _refused(ex, tampered(opp, opportunity_id=opp.opportunity_id + 1), route) == RejectReason.MALFORMED
    assert _refused(ex, opp, route.replace(trade=route.trade[:-1])) == RejectReason.MALFORMED
    small = executor_for(net, tmp_path, max_amount_in="WETH=1,USDC=1,DAI=1")
    assert _refused(small, opp, route) == RejectReason.SIZE_LIMIT
    no_pools = executor_for(net, tmp_path, allow_pools="0x" + "11" * 20)
    assert _refused(no_pools, opp, route) == RejectReason.POOL_NOT_ALLOWED
    ceiling = executor_for(net, tmp_path, max_fee_gwei="0")
    assert _refused(ceiling, opp, route) == RejectReason.GAS_PRICE_CEILING
    assert net.chain.rpc("eth_getTransactionCount", [net.chain.address, "pending"]) == \
        net.chain.rpc("eth_getTransactionCount", [net.chain.address, "latest"])


def test_a_halt_before_signing_or_before_sending_sends_nothing(net, tmp_path):
    state = {"calls": 0, "halt_at": 1}

    def halted() -> bool:
        state["calls"] += 1
        return state["calls"] >= state["halt_at"]

    for halt_at in (1, 2):  # 1: the check before signing; 2: the check right before sending
        state.update(calls=0, halt_at=halt_at)
        ex = executor_for(net, tmp_path, halted=halted, journal=tmp_path / f"j{halt_at}.db")
        opp, route = opportunities(net, tmp_path)[0]
        nonce = int(net.chain.rpc("eth_getTransactionCount", [net.chain.address, "pending"]), 16)
        job = ex.admit(opp, route, b"", 1)
        with pytest.raises(Refused) as exc:
            ex.execute(job)
        assert exc.value.reason == RejectReason.HALTED
        assert (job.signed_ns > 0) == (halt_at == 2)
        assert int(net.chain.rpc("eth_getTransactionCount", [net.chain.address, "pending"]), 16) == nonce
        assert ex.nonces.take() == nonce  # a nonce taken and not sent is given back


def test_a_trade_whose_profit_is_gone_is_dropped_by_the_simulation(net, tmp_path):
    ex = executor_for(net, tmp_path)
    found = opportunities(net, tmp_path)
    opp, route = found[0]
    # Someone else takes the mispricing first.
    first = found[0]
    job0 = ex.admit(*first, b"", 1)
    ex.execute(job0)
    _settle(ex, ex.sent(job0) and job0)
    ex.head = ex.head.__class__(ex.head.number, ex.head.next_base_fee, ex.head.priority_fee)
    again = tampered(opp, opportunity_id=opp.opportunity_id ^ 1)
    route2 = route.replace(opportunity_id=again.opportunity_id)
    job = ex.admit(again, route2, b"", 1)
    with pytest.raises(Refused) as exc:
        ex.execute(job)
    assert exc.value.reason in (RejectReason.SIMULATION_REVERTED, RejectReason.SIMULATED_PROFIT_LOW)
