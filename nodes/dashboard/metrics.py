"""The dashboard's own Prometheus counters (``GET /metrics``), in a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class DashboardMetrics:
    """Clients, messages sent and dropped clients, refusals by kind, and the mesh side's
    counters (frames in, gaps, frames lost by the subscriber and by the ring readers)."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.clients = Gauge("dashboard_clients", "websocket clients connected", registry=r)
        self.connected = Counter("dashboard_clients_connected", "websocket clients accepted",
                                 registry=r)
        self.dropped = Counter("dashboard_clients_dropped", "clients closed for falling "
                               "behind, by reason", ["reason"], registry=r)
        self.sent = Counter("dashboard_messages_sent", "websocket messages sent", registry=r)
        self.broadcast = Counter("dashboard_messages_broadcast", "messages fanned out, by type",
                                 ["type"], registry=r)
        self.errors = Counter("dashboard_errors", "requests refused and bad input, by kind",
                              ["kind"], registry=r)
        self.requests = Counter("dashboard_requests", "HTTP requests, by route", ["route"],
                                registry=r)
        self.mesh = Gauge("dashboard_mesh", "the mesh side's counters (subscriber and ring "
                          "readers)", ["counter"], registry=r)
