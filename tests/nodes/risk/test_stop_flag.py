"""The risk node sets this host's kill flag when it latches a stop and clears it on resume."""

from __future__ import annotations

from mesh.protocol import EmergencyStop
from mesh.protocol.constants import StopScope
from shm.kill_flag import KillFlag
from tests.nodes.risk.harness import RiskHarness


def _flag(h: RiskHarness) -> KillFlag:
    return KillFlag(h.cfg.kill_flag_name)


def test_a_latched_stop_sets_the_kill_flag_with_its_id_and_a_resume_clears_it():
    with RiskHarness() as h:
        flag = _flag(h)
        try:
            assert not flag.is_set()
            reply = h.control(EmergencyStop(latched=1, reason="test", raised_by="operator"))
            stop_id = int(reply.split()[1])
            # set before the reply (and before the stop is published): no wait needed
            assert flag.is_set() and flag.stop_id == stop_id
            stop = h.wait_for(EmergencyStop, where=lambda s: s.latched)[0]
            assert stop.stop_id == stop_id and stop.timestamp_ns >= stop_id
            assert h.control(EmergencyStop(latched=0, raised_by="operator")) == \
                b"OK %d" % stop_id
            assert not flag.is_set() and flag.stop_id == stop_id
            # nothing latched: a resume leaves a flag someone else set alone
            flag.set(7)
            assert h.control(EmergencyStop(latched=0, raised_by="operator")) == b"OK 0"
            assert flag.is_set()
        finally:
            flag.close()
        assert h.stop() == 0


def test_no_flag_when_configured_off_or_for_a_narrower_scope():
    with RiskHarness(settings={"kill_flag": False}) as h:
        flag = _flag(h)
        try:
            h.control(EmergencyStop(latched=1, reason="test", raised_by="operator"))
            assert not flag.is_set()
        finally:
            flag.close()
    with RiskHarness() as h:
        flag = _flag(h)
        try:
            h.control(EmergencyStop(latched=1, reason="one strategy", scope=StopScope.STRATEGY))
            assert not flag.is_set()
            h.wait_for(EmergencyStop, where=lambda s: s.latched)
        finally:
            flag.close()
