"""Reconciliation on the devnet: real FlashArbitrage trades booked from their results match the
chain's balances; a transfer behind the books' back raises a RiskAlert with the exact amount."""

from __future__ import annotations

import time

import pytest

from contracts.arbitrage import arbitrage_events, execute
from contracts.pools import erc20
from mesh.protocol import ExecutionDetail, ExecutionResult, RiskAlert
from mesh.protocol.constants import AlertAction, ExecutionStatus, Severity
from nodes.portfolio import RULE_RECONCILIATION
from nodes.runtime.testing import NodeHarness
from tests.contracts import routes
from tests.nodes.portfolio.pnl import pnl_json

pytestmark = pytest.mark.chain
LAG = 2


def _wait(h: NodeHarness, what, timeout: float = 20.0, mine=None) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, f"timed out\n{h.log()[-3000:]}"
        if mine is not None:
            mine()
        time.sleep(0.05)


def _settled(oid: int, trade, receipt, event) -> tuple[ExecutionResult, ExecutionDetail]:
    gas_paid = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    res = ExecutionResult(
        opportunity_id=oid, status=ExecutionStatus.INCLUDED, strategy_id=1,
        profit_token=bytes.fromhex(trade.profit_token[2:]), realized_profit=event.profit,
        amount_in=trade.amount_in, gas_used=receipt["gasUsed"],
        effective_gas_price_wei=receipt["effectiveGasPrice"],
        block_number=receipt["blockNumber"], tx_hash=bytes(receipt["transactionHash"]))
    return res, ExecutionDetail(opportunity_id=oid, chain_profit=event.profit,
                                predicted_gross=event.profit, gas_paid_wei=gas_paid)


def test_real_trades_reconcile_and_a_transfer_behind_the_books_is_alerted(net, tmp_path):
    usdc, weth = net.token("USDC").lower(), net.token("WETH").lower()
    db = tmp_path / "p.sqlite"
    settings = {"db_path": str(db), "rpc_url": net.chain.url, "flash_arbitrage": net.arb.address,
                "recipient": net.recipient, "profit_tokens": f"{usdc},{weth}",
                "reconcile_interval_s": 0.05, "reconcile_lag_blocks": LAG,
                "pending_grace_s": 120.0}

    def mine() -> None:
        net.chain.rpc("evm_mine", [])

    def checked_up_to(block: int):
        return lambda: h.metric("alphapulse_portfolio_reconciled_block") >= block

    start = net.chain.block_number()
    rcpt_before = {usdc: net.balance("USDC", net.recipient), weth: net.balance("WETH", net.recipient)}
    with NodeHarness("portfolio", settings=settings) as h:
        mine()
        _wait(h, checked_up_to(start + 1 - LAG))  # baselines read
        builders = [lambda: routes.aave(net, 2), lambda: routes.v2_fused(net, 2),
                    lambda: routes.v3(net, 3)]
        # as an executor does: SUBMITTED when it sends, the final result once it settles
        for oid in range(1, len(builders) + 1):
            h.feed(ExecutionResult(opportunity_id=oid, status=ExecutionStatus.SUBMITTED, strategy_id=1))
        _wait(h, lambda: h.metric("alphapulse_portfolio_pending") == len(builders))
        settled = []
        for oid, build in enumerate(builders, 1):
            trade = build()  # priced on the chain as the trades before it left it
            receipt = execute(net.chain, net.arb, trade)
            (event,) = arbitrage_events(receipt, net.arb.address)
            settled.append(_settled(oid, trade, receipt, event))
            mine()  # the chain moves on before the result arrives
        for res, detail in settled:
            h.feed(res, detail)
        h.feed(ExecutionResult(opportunity_id=99, status=ExecutionStatus.REJECTED, strategy_id=1))
        _wait(h, lambda: h.metric("alphapulse_portfolio_booked_total") == len(builders) + 1)
        last = max(r.block_number for r, _ in settled)
        _wait(h, checked_up_to(last + 1), mine=mine)
        assert h.produced(RiskAlert) == []
        assert h.metric("alphapulse_portfolio_reconcile_checks_total") >= 3
        assert h.metric("alphapulse_portfolio_pending") == 0
        for token in (usdc, weth):
            for holder in ("contract", "recipient"):
                assert h.metric("alphapulse_portfolio_reconcile_difference", token=token,
                                holder=holder) == 0
        rep = pnl_json(db)
        for token in (usdc, weth):
            paid = net.balance("USDC" if token == usdc else "WETH", net.recipient) - rcpt_before[token]
            assert paid > 0 and rep["positions"][token] == paid

        # behind the books' back: the deployer sends the recipient some USDC
        gift = 1_234_567
        net.chain.transact(erc20(net.chain, usdc), "transfer", net.recipient, gift)
        alert = None

        def alerted() -> bool:
            nonlocal alert
            h.collect(timeout=0.05)
            found = h.produced(RiskAlert)
            alert = found[0] if found else None
            return alert is not None
        _wait(h, alerted, mine=mine)
        assert alert is not None
        assert alert.observed == gift and alert.threshold == 0
        assert alert.rule == RULE_RECONCILIATION and alert.severity == Severity.CRITICAL
        assert alert.action == AlertAction.NONE
        assert usdc[:10] in alert.message and "recipient" in alert.message
        assert h.metric("alphapulse_portfolio_reconcile_difference", token=usdc,
                        holder="recipient") == gift
        assert h.metric("alphapulse_portfolio_reconcile_mismatches_total") == 1
        assert len(h.produced(RiskAlert)) == 1
        h.assert_contract()
