"""The executor as a process: opportunities in over ZeroMQ, transactions on the devnet, results out."""

from __future__ import annotations

import json
import os

import pytest

from contracts.accounts import dev_account
from mesh.protocol import EmergencyStop, ExecutionDetail, ExecutionResult
from mesh.protocol.constants import ExecutionStatus, RejectReason
from nodes.runtime.testing import NodeHarness
from tests.nodes.executor.kit import opportunities, tampered

pytestmark = pytest.mark.chain


def _harness(net, tmp_path, **settings) -> NodeHarness:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(net.manifest))
    return NodeHarness("executor", settings={"manifest": str(path), "recipient": net.recipient,
                                             "journal": str(tmp_path / "executor.journal"), **settings},
                       mesh={"deadline_ms": 0}, start_timeout=60)  # no risk node: no dead man's switch


def _final(h: NodeHarness, oid: int, timeout: float = 20.0) -> tuple[ExecutionResult, ExecutionDetail]:
    """The final [ExecutionResult, ExecutionDetail] of opportunity ``oid``."""
    h.wait_for(ExecutionResult, where=lambda r: r.opportunity_id == oid and r.status != ExecutionStatus.SUBMITTED,
               timeout=timeout)
    for d in h.deliveries:
        tlvs = d.frame.tlvs
        if tlvs and isinstance(tlvs[0], ExecutionResult) and tlvs[0].opportunity_id == oid \
                and tlvs[0].status != ExecutionStatus.SUBMITTED:
            assert isinstance(tlvs[1], ExecutionDetail) and tlvs[1].opportunity_id == oid
            return tlvs[0], tlvs[1]
    raise AssertionError("no final result")


def _nonce(net) -> int:
    return int(net.chain.rpc("eth_getTransactionCount", [net.chain.address, "pending"]), 16)


def test_node_executes_refuses_by_reason_and_never_twice(net, tmp_path):
    opp, route = opportunities(net, tmp_path)[0]
    hostile = tampered(opp, opportunity_id=opp.opportunity_id + 1, strategy_id=42)
    with _harness(net, tmp_path) as h:
        h.feed(hostile, route.replace(opportunity_id=hostile.opportunity_id))
        h.feed(opp, route)
        h.feed(opp, route)  # the same opportunity again
        result, detail = _final(h, opp.opportunity_id)
        assert result.status == ExecutionStatus.INCLUDED, detail.error
        assert detail.chain_profit == detail.predicted_gross or detail.chain_profit > 0
        rejected = [r for r in h.produced(ExecutionResult) if r.status == ExecutionStatus.REJECTED]
        reasons = [d.reject_reason for d in h.produced(ExecutionDetail) if d.reject_reason]
        # A duplicate is counted, not published: the first claim's result owns the opportunity id.
        assert reasons == [RejectReason.STRATEGY_NOT_ALLOWED]
        assert len(rejected) == 1 and rejected[0].opportunity_id == hostile.opportunity_id
        submitted = [r for r in h.produced(ExecutionResult) if r.status == ExecutionStatus.SUBMITTED]
        assert len(submitted) == 1 and submitted[0].tx_hash == result.tx_hash
        receipt = net.chain.receipt(result.tx_hash)
        assert receipt is not None and receipt["blockNumber"] == result.block_number
        h.assert_contract()
        assert h.metric("alphapulse_errors_total", kind="refused_duplicate") == 1
        assert h.stop() == 0
        log = h.log()
    key = dev_account(0).key.hex()
    assert key.removeprefix("0x") not in log
    assert all(key.removeprefix("0x").encode() not in d.raw.hex().encode() for d in h.deliveries)


def test_a_latched_stop_refuses_without_sending_and_resume_trades_again(net, tmp_path):
    found = opportunities(net, tmp_path)
    opp, route = found[0]
    with _harness(net, tmp_path) as h:
        nonce = _nonce(net)
        assert h.control(EmergencyStop(latched=1, reason="test", raised_by="operator", stop_id=7)) == b"OK 7"
        h.feed(opp, route)
        result, detail = _final(h, opp.opportunity_id)
        assert result.status == ExecutionStatus.REJECTED and detail.reject_reason == RejectReason.HALTED
        assert _nonce(net) == nonce  # nothing signed or sent
        assert h.control(EmergencyStop(latched=0, raised_by="operator")) == b"OK 7"
        again = tampered(opp, opportunity_id=opp.opportunity_id + 7)
        h.feed(again, route.replace(opportunity_id=again.opportunity_id))
        result, detail = _final(h, again.opportunity_id)
        assert result.status == ExecutionStatus.INCLUDED, detail.error


def test_the_key_from_the_environment_is_never_in_a_log_frame_or_metric(net, tmp_path):
    opp, route = opportunities(net, tmp_path)[0]
    key = dev_account(0).key.hex().removeprefix("0x")
    variable = f"EXECUTOR_TEST_KEY_{os.getpid()}"
    os.environ[variable] = "0x" + key
    try:
        with _harness(net, tmp_path, key="env", key_env=variable) as h:
            h.feed(opp, route)
            result, detail = _final(h, opp.opportunity_id)
            assert result.status == ExecutionStatus.INCLUDED, detail.error
            metrics = h.metrics()
            assert h.stop() == 0
            log = h.log()
    finally:
        del os.environ[variable]
    assert key not in log and key.upper() not in log
    assert key not in metrics
    assert all(bytes.fromhex(key) not in d.raw for d in h.deliveries)


def test_what_was_in_flight_when_the_node_was_killed_is_settled_after_its_restart(net, tmp_path):
    from contracts.anvil import mine, set_automine
    opp, route = opportunities(net, tmp_path)[0]
    set_automine(net.chain, False)  # the transaction waits in the pool while the node dies
    with _harness(net, tmp_path) as h:
        h.feed(opp, route)
        (sent,) = h.wait_for(ExecutionResult, where=lambda r: r.opportunity_id == opp.opportunity_id, timeout=20)
        assert sent.status == ExecutionStatus.SUBMITTED
        assert h.proc is not None
        h.proc.kill()  # SIGKILL: no goodbye, the journal is all that is left
        h.proc.wait(10)
    mine(net.chain)
    with _harness(net, tmp_path) as again:  # the same journal
        result, _ = _final(again, opp.opportunity_id)
        assert result.status == ExecutionStatus.INCLUDED and result.tx_hash == sent.tx_hash
        again.feed(opp, route)  # and it is not executed a second time
        again.collect(lambda _: again.metric("alphapulse_errors_total", kind="refused_duplicate") >= 1, 10)
        assert again.metric("alphapulse_errors_total", kind="refused_duplicate") == 1
