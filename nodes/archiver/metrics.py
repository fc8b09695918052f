"""The archiver's Prometheus metrics, from counters the loop thread updates.

All labelled ``node``; per ``domain``: ``alphapulse_archiver_frames_archived_total`` (frames
written to a journal), ``alphapulse_archiver_frames_dropped_total{cause}`` (``ring_lost``: a
broadcast ring's writer lapped the archiver; ``overflow``: the write buffer was full;
``stream_gap``, domain ``zmq``: frames a ZeroMQ stream skipped that recovery did not bring
back), ``alphapulse_archiver_bytes_raw_total`` (frame bytes in closed parts),
``alphapulse_archiver_bytes_compressed_total`` (their Parquet files' bytes); node-wide:
``alphapulse_archiver_parts_total``, ``alphapulse_archiver_compression_ratio`` (raw over
compressed, all closed parts), ``alphapulse_archiver_buffered_frames`` (waiting for a write)
and ``alphapulse_archiver_gated_rings`` (lossless rings whose gate the archiver holds).

Thread-safety: the scrape thread reads plain ints and Counters the loop thread increments
(a racy read is at worst one scrape old).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

__all__ = ["ArchiverCollector", "ArchiverCounts"]


class ArchiverCounts:
    """The counters (loop thread writes, scrape thread reads)."""

    def __init__(self) -> None:
        self.archived: Counter[str] = Counter()
        self.dropped: Counter[tuple[str, str]] = Counter()
        self.raw: Counter[str] = Counter()
        self.compressed: Counter[str] = Counter()
        self.parts = 0

    @property
    def ratio(self) -> float:
        """Raw frame bytes over Parquet bytes of every closed part (0 before the first)."""
        packed = sum(self.compressed.values())
        return sum(self.raw.values()) / packed if packed else 0.0


class ArchiverCollector:
    """A prometheus-client collector over :class:`ArchiverCounts` and two live gauges."""

    def __init__(self, node: str, counts: ArchiverCounts,
                 gauges: Callable[[], dict[str, float]]) -> None:
        self.node = node
        self.counts = counts
        self.gauges = gauges

    def collect(self) -> Iterator[Metric]:
        """Yield the current values (scrape thread)."""
        c, node = self.counts, self.node
        for name, doc, values in (
                ("frames_archived", "Frames written to the archive", c.archived),
                ("bytes_raw", "Frame bytes in closed Parquet parts", c.raw),
                ("bytes_compressed", "Bytes of closed Parquet parts", c.compressed)):
            m = CounterMetricFamily(f"alphapulse_archiver_{name}", doc, labels=["node", "domain"])
            for domain, n in list(values.items()):
                m.add_metric([node, domain], n)
            yield m
        dropped = CounterMetricFamily("alphapulse_archiver_frames_dropped",
                                      "Frames the archive will never hold, by cause",
                                      labels=["node", "domain", "cause"])
        for (domain, cause), n in list(c.dropped.items()):
            dropped.add_metric([node, domain, cause], n)
        yield dropped
        parts = CounterMetricFamily("alphapulse_archiver_parts", "Parquet parts closed",
                                    labels=["node"])
        parts.add_metric([node], c.parts)
        yield parts
        gauges = {"compression_ratio": c.ratio, **self.gauges()}
        for name, value in gauges.items():
            g = GaugeMetricFamily(f"alphapulse_archiver_{name}", name.replace("_", " "),
                                  labels=["node"])
            g.add_metric([node], value)
            yield g
