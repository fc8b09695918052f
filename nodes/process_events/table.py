"""Every supervised program's latest state and its transition counts, as ProcessEvent messages.

Owned by the node's loop thread; the metrics scrape thread only reads :meth:`ProgramTable.snapshot`.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from mesh.protocol import ProcessEvent
from mesh.protocol.constants import ProcessState
from nodes.process_events.listener import StateChange


@dataclass(slots=True)
class Program:
    """One program: transitions into each state, its latest event, when it last changed."""

    name: str
    counts: Counter[ProcessState] = field(default_factory=Counter)
    latest: ProcessEvent | None = None
    changed_ns: int = 0

    @property
    def state(self) -> ProcessState:
        """The state it is in now (UNKNOWN before its first event)."""
        return ProcessState(self.latest.state) if self.latest is not None else ProcessState.UNKNOWN


class ProgramTable:
    """Fold state changes in; hand out the message of each and the table of latest ones."""

    def __init__(self) -> None:
        self.programs: dict[str, Program] = {}

    def apply(self, change: StateChange, now_ns: int | None = None) -> ProcessEvent:
        """Count ``change`` and return its message (``count``: transitions into its state)."""
        prog = self.programs.get(change.program)
        if prog is None:
            prog = self.programs[change.program] = Program(change.program)
        prog.counts[change.state] += 1
        prog.changed_ns = time.time_ns() if now_ns is None else now_ns
        prog.latest = ProcessEvent(
            timestamp_ns=prog.changed_ns, serial=change.serial, pid=change.pid,
            count=min(prog.counts[change.state], 2**32 - 1),
            starts=min(prog.counts[ProcessState.STARTING], 2**32 - 1), tries=change.tries,
            state=int(change.state), from_state=int(change.from_state),
            expected=change.expected, program=change.program)
        return prog.latest

    def latest(self) -> list[ProcessEvent]:
        """The latest message of every program heard, by name."""
        return [p.latest for _, p in sorted(self.programs.items()) if p.latest is not None]

    def snapshot(self) -> list[tuple[str, dict[ProcessState, int], bool, int]]:
        """Per program (for metrics): name, counts per state, whether it runs, last change ns."""
        return [(p.name, dict(p.counts), p.state == ProcessState.RUNNING, p.changed_ns)
                for p in list(self.programs.values())]
