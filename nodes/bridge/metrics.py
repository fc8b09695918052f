"""Prometheus metrics of the bridge nodes (beside the runtime's own, labelled ``node``).

* ``alphapulse_bridge_frames_total{node,source}``: frames sent (bridge-out) or written to the
  local ring (bridge-in), per source;
* ``alphapulse_bridge_lost_total{node,source,where}``: frames that did not make it, by where
  they were lost: ``ring`` (bridge-out's reader was lapped by the writer), ``link`` (bridge-in
  saw a sequence gap: ring losses upstream, high-water-mark drops, reconnects; it includes the
  ``ring`` losses bridge-out reported by skipping their sequence numbers), ``write``
  (bridge-in could not write the frame into its ring);
* ``alphapulse_bridge_gaps_total{node,source,kind}``: gap events at bridge-in (``gap``: a
  sequence gap; ``tail``: a beat said frames were sent that never came; ``restart``:
  bridge-out started a new run, what it missed meanwhile unknown);
* ``alphapulse_bridge_invalidations_total{node,source}``: invalidation frames bridge-in wrote
  so consumers drop what they hold from the source;
* ``alphapulse_bridge_link_events_total{node,event}``: the tcp link's handshakes
  (``handshake_ok``, ``handshake_refused`` by the ZAP handler, ``handshake_failed``: e.g. a
  server key that does not match) and ``disconnected``.

Thread-safety: the scrape thread only reads the counters the loop thread updates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, Metric


@dataclass(slots=True)
class SourceCounts:
    """One source's counters."""

    frames: int = 0
    lost: Counter[str] = field(default_factory=Counter)
    gaps: Counter[str] = field(default_factory=Counter)
    invalidations: int = 0


class BridgeCollector:
    """A prometheus-client collector over per-source counters and the link's events."""

    def __init__(self, node: str, sources: dict[str, SourceCounts],
                 link: Counter[str]) -> None:
        self.node = node
        self.sources = sources
        self.link = link

    def collect(self) -> Iterator[Metric]:
        """Yield the current values (called by the scrape thread)."""
        frames = CounterMetricFamily("alphapulse_bridge_frames", "Frames bridged per source",
                                     labels=["node", "source"])
        lost = CounterMetricFamily("alphapulse_bridge_lost", "Frames lost on the way",
                                   labels=["node", "source", "where"])
        gaps = CounterMetricFamily("alphapulse_bridge_gaps", "Gap events per source",
                                   labels=["node", "source", "kind"])
        inval = CounterMetricFamily("alphapulse_bridge_invalidations",
                                    "Invalidation frames written", labels=["node", "source"])
        for name, c in list(self.sources.items()):
            frames.add_metric([self.node, name], c.frames)
            for where, n in list(c.lost.items()):
                lost.add_metric([self.node, name, where], n)
            for kind, n in list(c.gaps.items()):
                gaps.add_metric([self.node, name, kind], n)
            inval.add_metric([self.node, name], c.invalidations)
        events = CounterMetricFamily("alphapulse_bridge_link_events", "tcp link events",
                                     labels=["node", "event"])
        for event, n in list(self.link.items()):
            events.add_metric([self.node, event], n)
        yield from (frames, lost, gaps, inval, events)
