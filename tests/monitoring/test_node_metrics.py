"""The domain metrics each node folds in, read back through a prometheus registry the way a
scrape reads them (no processes: test_promtool scrapes live nodes)."""

from __future__ import annotations

import numpy as np
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mesh.protocol import ExecutionDetail, ExecutionResult, Heartbeat
from mesh.protocol.constants import ExecutionStatus, NodeState
from mesh.protocol.frame import encode_frame
from mesh.protocol.messages import BlockEnd, GasPrice, PoolSync
from nodes.collector_evm.metrics import EvmMetrics
from nodes.executor.metrics import ExecutorMetrics
from nodes.monitor.metrics import MonitorMetrics
from nodes.risk.metrics import PnL
from nodes.strategy.metrics import StrategyMetrics, first_block_end_ns

DAY_NS = 86_400 * 10**9


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _value(samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def _batch(frames: list[bytes]) -> tuple[np.ndarray, np.ndarray, int]:
    offsets = np.zeros(len(frames) + 1, np.int64)
    np.cumsum([len(f) for f in frames], out=offsets[1:])
    return np.frombuffer(b"".join(frames), np.uint8), offsets, len(frames)


def test_the_price_update_time_is_the_first_block_end_of_the_batch():
    sync = encode_frame([PoolSync()], source=1, timestamp_ns=100)
    end1 = encode_frame([BlockEnd(block_number=7), GasPrice()], source=1, timestamp_ns=1_000)
    end2 = encode_frame([BlockEnd(block_number=8)], source=1, timestamp_ns=2_000)
    assert first_block_end_ns(*_batch([sync, end1, sync, end2])) == 1_000
    assert first_block_end_ns(*_batch([sync, sync])) == 0
    assert first_block_end_ns(*_batch([])) == 0


def test_strategy_counts_opportunities_per_strategy_and_observes_detection():
    registry = CollectorRegistry(auto_describe=False)
    m = StrategyMetrics("strategy", registry, lambda: {"withheld": 2, "deferred": 3, "pools": 5,
                                                       "cycles": 8}, (1, 4))
    before = _samples(registry)
    assert _value(before, "alphapulse_strategy_opportunities_total", node="strategy", strategy="4") == 0
    m.batch(*_batch([encode_frame([BlockEnd()], source=1, timestamp_ns=10**18)]))
    m.published(1, 250 * 10**8, 10**18 + 30_000_000)  # 30 ms after the block closed
    m.published(1, 50 * 10**8, 10**18 + 70_000_000)
    s = _samples(registry)
    assert _value(s, "alphapulse_strategy_opportunities_total", node="strategy", strategy="1") == 2
    assert _value(s, "alphapulse_strategy_predicted_profit_usd_total", node="strategy", strategy="1") == 300
    assert _value(s, "alphapulse_strategy_withheld_total", node="strategy") == 2
    assert _value(s, "alphapulse_strategy_cycles", node="strategy") == 8
    assert _value(s, "alphapulse_strategy_detect_seconds_count", node="strategy") == 2
    assert _value(s, "alphapulse_strategy_detect_seconds_bucket", node="strategy", le="0.05") == 1
    assert _value(s, "alphapulse_strategy_detect_seconds_bucket", node="strategy", le="0.1") == 2


def _result(status: ExecutionStatus, **fields: int) -> list:
    r = {k: fields.pop(k) for k in ("realized_profit_usd_q8", "gas_used", "effective_gas_price_wei",
                                     "detected_ns") if k in fields}
    return [ExecutionResult(strategy_id=1, status=int(status), **r), ExecutionDetail(**fields)]


def test_executor_folds_results_latencies_profit_and_gas():
    registry = CollectorRegistry(auto_describe=False)
    m = ExecutorMetrics("executor", registry, lambda: {"base_fee_gwei": 30.0, "in_flight": 1.0}, [1])
    t0 = 10**18
    m.published(_result(ExecutionStatus.SUBMITTED, detected_ns=t0, signed_ns=t0 + 2_000_000,
                        sent_ns=t0 + 3_000_000), 100 * 10**8)
    m.published(_result(ExecutionStatus.INCLUDED, detected_ns=t0, sent_ns=t0 + 3_000_000,
                        included_ns=t0 + 2_003_000_000, realized_profit_usd_q8=90 * 10**8,
                        gas_used=180_000, gas_estimate=200_000, effective_gas_price_wei=40 * 10**9),
                100 * 10**8)
    m.published(_result(ExecutionStatus.REVERTED, detected_ns=t0, sent_ns=t0, included_ns=t0 + 10**9,
                        realized_profit_usd_q8=-5 * 10**8, gas_used=50_000, gas_estimate=200_000),
                20 * 10**8)
    m.published(_result(ExecutionStatus.REJECTED), 7 * 10**8)
    s = _samples(registry)
    results = {st: _value(s, "alphapulse_executor_results_total", node="executor", strategy="1", status=st)
               for st in ("submitted", "included", "reverted", "rejected", "dropped")}
    assert results == {"submitted": 1, "included": 1, "reverted": 1, "rejected": 1, "dropped": 0}
    assert _value(s, "alphapulse_executor_predicted_profit_usd", node="executor", strategy="1") == 120
    assert _value(s, "alphapulse_executor_realized_profit_usd", node="executor", strategy="1") == 85
    assert _value(s, "alphapulse_executor_gas_estimated_total", node="executor", strategy="1") == 400_000
    assert _value(s, "alphapulse_executor_gas_used_total", node="executor", strategy="1") == 230_000
    assert _value(s, "alphapulse_executor_gas_price_gwei", node="executor") == 40
    assert _value(s, "alphapulse_executor_base_fee_gwei", node="executor") == 30

    def count(hop: str, le: str = "+Inf") -> float:
        return _value(s, "alphapulse_executor_latency_seconds_bucket", node="executor", hop=hop, le=le)

    assert count("opportunity_to_signed", "0.0025") == 1 and count("signed_to_sent", "0.001") == 1
    assert count("sent_to_included") == 2 and count("sent_to_included", "1.0") == 1
    assert count("opportunity_to_included", "2.5") == 2 and count("opportunity_to_included", "1.0") == 1


class _Follower:
    streaming = True
    outages = 3


def test_evm_collector_exports_the_last_block_fees_and_its_websocket():
    registry = CollectorRegistry(auto_describe=False)
    follower: list = [None]
    m = EvmMetrics("collector-evm", lambda: follower[0])
    registry.register(m)
    s = _samples(registry)
    assert _value(s, "alphapulse_evm_ws_connected", node="collector-evm", venue="evm") == 0
    m.written([PoolSync()])
    m.written([BlockEnd(block_number=12, next_base_fee_wei=120 * 10**9, priority_fee_wei=2 * 10**9), GasPrice()])
    follower[0] = _Follower()
    s = _samples(registry)
    assert _value(s, "alphapulse_evm_head_block", node="collector-evm") == 12
    assert _value(s, "alphapulse_evm_base_fee_gwei", node="collector-evm") == 120
    assert _value(s, "alphapulse_evm_blocks_total", node="collector-evm") == 1
    assert _value(s, "alphapulse_evm_ws_connected", node="collector-evm", venue="evm") == 1
    assert _value(s, "alphapulse_evm_disconnections_total", node="collector-evm", venue="evm") == 3


def test_monitor_exports_each_watched_node_heartbeats():
    registry = CollectorRegistry(auto_describe=False)
    m = MonitorMetrics("monitor")
    registry.register(m)
    m.beat(Heartbeat(node="risk", state=int(NodeState.RUNNING)), 0)
    m.beat(Heartbeat(node="risk", state=int(NodeState.RUNNING), stop_latched=1), 0)
    s = _samples(registry)
    assert _value(s, "alphapulse_monitor_heartbeats_total", node="monitor", watched="risk") == 2
    assert _value(s, "alphapulse_monitor_watched_stop_latched", node="monitor", watched="risk") == 1
    assert _value(s, "alphapulse_monitor_heartbeat_age_seconds", node="monitor", watched="risk") > 0


def test_the_day_pnl_starts_again_at_utc_midnight():
    p = PnL()
    p.book(-600 * 10**8, now_ns=3 * DAY_NS + 5)
    p.book(-500 * 10**8, now_ns=3 * DAY_NS + 9)
    assert p.today_q8(3 * DAY_NS + 10) == -1100 * 10**8
    assert p.today_q8(4 * DAY_NS) == 0
    p.book(40 * 10**8, now_ns=4 * DAY_NS + 1)
    assert p.today_q8(4 * DAY_NS + 2) == 40 * 10**8 and p.total_q8 == -1060 * 10**8
