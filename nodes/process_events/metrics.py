"""The process-event listener's Prometheus metrics (read at scrape time from its table).

- ``alphapulse_process_events_total{program,state}``: transitions into ``state`` (STARTING,
  RUNNING, BACKOFF, STOPPING, EXITED, STOPPED, FATAL), every state of every program heard
  exported from 0 so that ``increase()`` sees the first one;
- ``alphapulse_process_up{program}``: 1 while the program is RUNNING, else 0;
- ``alphapulse_process_last_change_seconds{program}``: wall time of its latest change.

Malformed events and events dropped on a full queue are the runtime's
``alphapulse_errors_total{node="process-events",kind="malformed_event"|"event_queue_full"}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from mesh.protocol.constants import ProcessState

#: The states counted (UNKNOWN is never a transition target).
STATES = tuple(s for s in ProcessState if s != ProcessState.UNKNOWN)

Snapshot = Callable[[], list[tuple[str, dict[ProcessState, int], bool, int]]]


class ProcessCollector:
    """A prometheus-client collector over :meth:`ProgramTable.snapshot`."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        """Yield the current values (called by the scrape thread)."""
        events = CounterMetricFamily("alphapulse_process_events",
                                     "Transitions of a supervised program into a state",
                                     labels=["program", "state"])
        up = GaugeMetricFamily("alphapulse_process_up", "1 while the program is RUNNING",
                               labels=["program"])
        changed = GaugeMetricFamily("alphapulse_process_last_change_seconds",
                                    "Wall time of the program's latest state change",
                                    labels=["program"])
        for name, counts, running, changed_ns in self.snapshot():
            for state in STATES:
                events.add_metric([name, state.name], counts.get(state, 0))
            up.add_metric([name], 1 if running else 0)
            changed.add_metric([name], changed_ns / 1e9)
        yield from (events, up, changed)
