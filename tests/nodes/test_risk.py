"""Contract tests of the risk node, in a subprocess, through the harness."""

from __future__ import annotations

import time

from mesh.protocol import EmergencyStop, ExecutionResult, Heartbeat, RiskAlert
from mesh.protocol.constants import AlertAction, ExecutionStatus, StopReason
from nodes.risk import RULE_CONSECUTIVE_FAILURES
from tests.nodes.risk.harness import RiskHarness


def test_risk_trips_breaker_latches_stop_and_keeps_contract():
    with RiskHarness(settings={"max_consecutive_failures": 2}) as h:
        h.feed(ExecutionResult(status=ExecutionStatus.REVERTED, strategy_id=7))
        h.feed(ExecutionResult(status=ExecutionStatus.SUBMIT_FAILED, strategy_id=7))
        alert = h.wait_for(RiskAlert)[0]
        assert alert.action == AlertAction.EMERGENCY_STOP
        assert alert.observed == 2 and alert.threshold == 2
        stop = h.wait_for(EmergencyStop, where=lambda s: s.latched)[0]
        assert stop.reason_code == StopReason.CIRCUIT_BREAKER
        # The latch rides in every later heartbeat, with the EmergencyStop TLV in the frame.
        h.wait_for(Heartbeat, where=lambda hb: hb.stop_latched and hb.stop_id == stop.stop_id)
        latched = [d for d in h.deliveries if (hb := d.frame.first(Heartbeat)) is not None
                   and hb.stop_latched]
        assert all(d.frame.first(EmergencyStop).stop_id == stop.stop_id for d in latched)
        h.assert_contract()
        assert h.stop() == 0


def test_risk_success_resets_the_breaker():
    with RiskHarness(settings={"max_consecutive_failures": 2}) as h:
        h.feed(ExecutionResult(status=ExecutionStatus.REVERTED))
        h.feed(ExecutionResult(status=ExecutionStatus.INCLUDED))
        h.feed(ExecutionResult(status=ExecutionStatus.REVERTED))
        # Consumed: a beat counts all three in. An alert they raised would have gone out on
        # the same socket before that beat, so it would have been collected by now.
        h.wait_for(Heartbeat, where=lambda hb: hb.frames_in >= 3)
        assert h.produced(RiskAlert) == []
        assert not any(hb.stop_latched for hb in h.produced(Heartbeat))


def test_operator_stop_and_resume_via_service_endpoint():
    with RiskHarness() as h:
        reply = h.control(EmergencyStop(latched=1, reason="test stop", raised_by="operator",
                                        stop_id=42))
        assert reply == b"OK 42"
        h.wait_for(Heartbeat, where=lambda hb: hb.stop_latched and hb.stop_id == 42)
        t_resume = time.time_ns()
        assert h.control(EmergencyStop(latched=0, raised_by="operator")) == b"OK 42"
        h.wait_for(EmergencyStop, where=lambda s: s.latched == 0 and s.stop_id == 42)
        released = h.wait_for(Heartbeat, where=lambda hb: not hb.stop_latched
                              and hb.timestamp_ns > t_resume)[0]
        assert released.stop_id == 0


def test_malformed_frames_are_counted_and_node_keeps_running():
    with RiskHarness() as h:
        h.feed_raw(b"3/050/0000000000000000/feeder:0000000000000001:1", b"\x00" * 40)
        h.feed_raw(b"3/050/garbage", b"x")
        h.feed(ExecutionResult(status=ExecutionStatus.INCLUDED))
        n = len(h.produced(Heartbeat))
        hb = h.wait_for(Heartbeat, count=n + 2)[-1]
        assert hb.errors >= 2
        assert h.metric("alphapulse_errors_total", kind="bad_magic") >= 1
        assert h.metric("alphapulse_errors_total", kind="bad_topic") >= 1
        assert h.metric("alphapulse_frames_in_total") >= 3
        assert h.stop() == 0


def test_breaker_alerts_once_while_tripped_and_rearms_after_an_operator_resume():
    with RiskHarness(settings={"max_consecutive_failures": 2}) as h:
        for _ in range(3):
            h.feed(ExecutionResult(status=ExecutionStatus.REVERTED))
        first = h.wait_for(EmergencyStop, where=lambda s: s.latched)[0]
        h.wait_for(Heartbeat, where=lambda hb: hb.frames_in >= 3)
        assert len(h.produced(RiskAlert)) == 1  # the third failure raised nothing new
        assert h.control(EmergencyStop(latched=0, raised_by="operator")) == \
            b"OK %d" % first.stop_id
        h.wait_for(EmergencyStop, where=lambda s: s.latched == 0)
        h.feed(ExecutionResult(status=ExecutionStatus.REVERTED))
        h.wait_for(Heartbeat, where=lambda hb: hb.frames_in >= 4 and not hb.stop_latched)
        h.feed(ExecutionResult(status=ExecutionStatus.REVERTED))  # two since the resume
        second = h.wait_for(RiskAlert, count=2)[1]
        assert second.observed == 2 and second.rule == RULE_CONSECUTIVE_FAILURES
        h.wait_for(EmergencyStop, where=lambda s: s.latched and s.stop_id != first.stop_id)
        assert h.metric("alphapulse_risk_trips_total", rule="consecutive_failures") == 2


def test_emergency_stop_alert_from_another_node_latches_a_stop():
    with RiskHarness() as h:
        h.feed(RiskAlert(rule=7, action=AlertAction.THROTTLE, message="just a warning"))
        h.feed(RiskAlert(rule=7, action=AlertAction.EMERGENCY_STOP, message="books differ"))
        stop = h.wait_for(EmergencyStop, where=lambda s: s.latched)[0]
        assert stop.reason_code == StopReason.CIRCUIT_BREAKER
        assert stop.reason == "alert from feeder: books differ"
        assert h.produced(RiskAlert) == []  # the risk node does not echo others' alerts
