"""The event listener protocol over real pipes, as supervisord speaks it: every event is
acknowledged at once, malformed ones are counted, a full queue drops and counts, EOF ends it."""

from __future__ import annotations

import os
import queue
import select
import time

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from mesh.protocol import ProcessEvent, decode_frame, encode_frame
from mesh.protocol.constants import ProcessState
from nodes.process_events import EventReader
from nodes.process_events.listener import ListenerChannel, StateChange
from nodes.process_events.metrics import ProcessCollector
from nodes.process_events.table import ProgramTable

DEADLINE = 30.0


class FakeSupervisor:
    """supervisord's side of the pipes, for one reader thread."""

    def __init__(self, size: int = 16) -> None:
        self.to_listener_r, self.to_listener_w = os.pipe()
        self.from_listener_r, self.from_listener_w = os.pipe()
        self.changes: queue.Queue[tuple[int, StateChange]] = queue.Queue(size)
        self.reader = EventReader(ListenerChannel(self.to_listener_r, self.from_listener_w),
                                  self.changes)
        self.reader.start()

    def expect(self, data: bytes) -> None:
        got = b""
        deadline = time.monotonic() + DEADLINE
        while len(got) < len(data) and time.monotonic() < deadline:
            if select.select([self.from_listener_r], [], [], 0.5)[0]:
                got += os.read(self.from_listener_r, len(data) - len(got))
        assert got == data

    def send(self, header: bytes, payload: bytes = b"") -> None:
        """One event after the listener's READY; wait for its acknowledgement."""
        self.expect(b"READY\n")
        os.write(self.to_listener_w, header + payload)
        self.expect(b"RESULT 2\nOK")

    def event(self, state: str, program: str, serial: int, **fields: object) -> None:
        body = " ".join([f"processname:{program}", f"groupname:{program}",
                         *(f"{k}:{v}" for k, v in fields.items())]).encode()
        self.send(f"ver:3.0 server:supervisor serial:{serial} pool:process-events "
                  f"poolserial:{serial} eventname:PROCESS_STATE_{state} len:{len(body)}\n"
                  .encode(), body)

    def close(self) -> None:
        os.close(self.to_listener_w)
        assert self.reader.closed.wait(DEADLINE)
        for fd in (self.to_listener_r, self.from_listener_r, self.from_listener_w):
            os.close(fd)


def test_events_are_acknowledged_parsed_and_bad_ones_counted():
    sup = FakeSupervisor()
    try:
        sup.event("RUNNING", "risk", 7, from_state="STARTING", pid=4321)
        sup.send(b"ver:3.0 eventname:PROCESS_STATE_RUNNING\n")  # no len
        body = b"processname:risk garbage"
        sup.send(b"serial:8 eventname:PROCESS_STATE_EXITED len:%d\n" % len(body), body)
        sup.event("WEIRD", "risk", 9, from_state="RUNNING")  # no such state
        sup.send(b"serial:10 eventname:TICK_5 len:5\n", b"when:")  # not ours: skipped
        sup.send(b"serial:11 eventname:PROCESS_STATE_EXITED len:2\n", b"\xff\xfe")
        sup.event("EXITED", "risk", 12, from_state="RUNNING", expected=0, pid=4321)
        sup.event("BACKOFF", "x" * 33, 13, from_state="STARTING", tries=1)  # name too long
    finally:
        sup.close()
    got = [sup.changes.get_nowait()[1] for _ in range(sup.changes.qsize())]
    assert [(c.serial, c.program, c.state, c.from_state, c.pid, c.expected) for c in got] == [
        (7, "risk", ProcessState.RUNNING, ProcessState.STARTING, 4321, 0),
        (12, "risk", ProcessState.EXITED, ProcessState.RUNNING, 4321, 0)]
    assert sup.reader.malformed == 5
    assert sup.reader.dropped == 0


def test_a_full_queue_drops_and_counts_without_holding_supervisord():
    sup = FakeSupervisor(size=1)
    try:
        for serial in range(1, 4):
            sup.event("STARTING", "strategy", serial, from_state="BACKOFF", tries=serial)
    finally:
        sup.close()
    assert sup.changes.get_nowait()[1].tries == 1
    assert sup.reader.dropped == 2


def test_eof_in_the_middle_of_an_event_ends_the_reader():
    sup = FakeSupervisor()
    sup.expect(b"READY\n")
    os.write(sup.to_listener_w, b"serial:1 eventname:PROCESS_STATE_FATAL len:40\nprocessname:x")
    sup.close()
    assert sup.changes.empty()


def _change(state: ProcessState, serial: int, program: str = "executor") -> StateChange:
    return StateChange(serial, program, program, state, ProcessState.UNKNOWN, 99, 0, 0)


def test_the_table_counts_transitions_and_its_messages_round_trip():
    table = ProgramTable()
    for serial, state in enumerate([ProcessState.STARTING, ProcessState.RUNNING,
                                    ProcessState.EXITED, ProcessState.STARTING,
                                    ProcessState.BACKOFF, ProcessState.FATAL], 1):
        event = table.apply(_change(state, serial), now_ns=1_000 + serial)
    assert (event.state, event.count, event.starts, event.timestamp_ns) == (
        ProcessState.FATAL, 1, 2, 1_006)
    table.apply(_change(ProcessState.RUNNING, 7, "risk"))
    latest = table.latest()
    assert [e.program for e in latest] == ["executor", "risk"]
    frame = decode_frame(encode_frame(latest, source=61))
    assert [t for t in frame.tlvs if isinstance(t, ProcessEvent)] == latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProcessCollector(table.snapshot))
    text = generate_latest(registry).decode()
    assert 'alphapulse_process_events_total{program="executor",state="STARTING"} 2.0' in text
    assert 'alphapulse_process_events_total{program="executor",state="FATAL"} 1.0' in text
    assert 'alphapulse_process_events_total{program="risk",state="FATAL"} 0.0' in text
    assert 'alphapulse_process_up{program="executor"} 0.0' in text
    assert 'alphapulse_process_up{program="risk"} 1.0' in text


@pytest.mark.parametrize("payload", [b"processname:a pid:-1", b"processname:a tries:70000",
                                     b"processname:a expected:2", b"groupname:a"])
def test_out_of_range_fields_are_malformed(payload):
    from nodes.process_events.listener import MalformedEvent, parse_state_change

    with pytest.raises(MalformedEvent):
        parse_state_change({"serial": "1", "eventname": "PROCESS_STATE_EXITED"}, payload)
