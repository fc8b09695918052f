"""Bridge test harness: two "hosts" on one machine: two ring namespaces, two mesh configs, a bridge between them.

Host A runs ``bridge-out`` (origin ``hosta``), host B runs ``bridge-in``; the link is tcp on
loopback with CURVE: A's keys directory holds bridge-out's pair and lists bridge-in's public
key, B's holds bridge-in's pair and bridge-out's public key. The test writes frames into a
ring of A's namespace (writer ``feeder``) and reads B's namespace with
:class:`mesh.rings.DomainReaders`, as a strategy on B would. Everything started is stopped
and unlinked on exit, also on failure. Used by tests/nodes/bridge/ and ``bench/bridge.py``.

Not thread-safe: one harness per test thread.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from alphapulse.ports import free_port
from mesh.protocol import Trade, encode_frame
from mesh.rings import DomainReaders, RingBatch
from mesh.security import generate_keys
from nodes.runtime.testing import short_dir, write_config
from shm.segment import list_ring_names, unlink
from shm.writer import RingWriter

ORIGIN = "hosta"
SOURCE = f"{ORIGIN}--feeder"
PROBE_ASSET = 0xB0B


def probe_frame(n: int) -> bytes:
    """Probe ``n``: a Trade frame that tells the link is up (asset ``PROBE_ASSET``)."""
    return encode_frame([Trade(asset_id=PROBE_ASSET, price=n, volume=1, venue=1)], source=1,
                        sequence=n, timestamp_ns=n)


def metrics(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """A node's Prometheus samples: ``(name, sorted labels) -> value`` (empty if down)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return {}
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def metric(port: int, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in metrics(port).items() if n == name and want <= set(ls))


def wait_until(cond: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``cond`` (backing off up to 50 ms) until it is truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


class Host:
    """One host's run directory, namespace, config and the node process it runs."""

    def __init__(self, root: Path, label: str) -> None:
        self.dir = root / label
        self.dir.mkdir()
        self.namespace = f"ap{root.name[3:].replace('_', '')}{label}"
        self.keys = self.dir / "keys"
        self.proc: subprocess.Popen[bytes] | None = None
        self.metrics_port = free_port()
        self.log = self.dir / "node.log"

    def configure(self, node: str, settings: dict[str, Any], **mesh: Any) -> Path:
        """Write this host's mesh config declaring only ``node``."""
        keys = {"run_dir": str(self.dir), "default_nodes": False, "metrics_base_port": 0,
                "heartbeat_ms": 200, "idle": "backoff", "ring_namespace": self.namespace,
                "keys_dir": str(self.keys), **mesh}
        self.node = node
        self.config = write_config(self.dir / "mesh.toml", keys,
                                   {node: {"metrics_port": self.metrics_port, **settings}})
        return self.config

    def start(self) -> None:
        """Start the node and wait until it is up (:meth:`launch`, :meth:`wait_up`)."""
        self.launch()
        self.wait_up()

    def launch(self) -> None:
        """Start the node (``python -m nodes.runtime``)."""
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "nodes.runtime", self.node, "--config", str(self.config)],
                stdout=log, stderr=subprocess.STDOUT)

    def wait_up(self) -> None:
        """Wait until the node's metrics answer; fail (with its log) if it exited."""
        assert self.proc is not None
        wait_until(lambda: self.proc is not None and (self.proc.poll() is not None
                                                      or metrics(self.metrics_port)),
                   60, f"{self.node} to start")
        assert self.proc.poll() is None, self.log.read_text()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the node with ``sig`` (SIGKILL after 10 s) and wait for it."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def close(self) -> None:
        """Stop the node; unlink every ring of this host's namespace."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
        self.stop()
        for name in list_ring_names(self.namespace):
            unlink(name)


class Bridge:
    """Host A (bridge-out, a feeder ring) and host B (bridge-in, a reader), keys in place."""

    def __init__(self, root: Path, *, feeder_capacity: int = 1 << 20,
                 in_key: str = "bridge-in", server_key: str = "bridge-out",
                 mesh: dict[str, Any] | None = None) -> None:
        self.a, self.b = Host(root, "a"), Host(root, "b")
        self.port = free_port()
        endpoint = f"tcp://127.0.0.1:{self.port}"
        generate_keys(self.a.keys, "bridge-out")
        generate_keys(self.b.keys, "bridge-in")
        shutil.copy(self.b.keys / "bridge-in.key", self.a.keys / "bridge-in.key")
        shutil.copy(self.a.keys / "bridge-out.key", self.b.keys / "bridge-out.key")
        if in_key != "bridge-in":  # B uses a pair A does not list
            generate_keys(self.b.keys, in_key)
        if server_key != "bridge-out":  # B pins a key that is not bridge-out's
            generate_keys(root / "rogue", server_key)
            shutil.copy(root / "rogue" / f"{server_key}.key", self.b.keys / f"{server_key}.key")
        self.a.configure("bridge-out", {"listen": endpoint, "origin": ORIGIN}, **(mesh or {}))
        self.b.configure("bridge-in", {"connect": endpoint, "origins": ORIGIN,
                                       "key": in_key, "server_key": server_key}, **(mesh or {}))
        self.feeder = RingWriter.create("market-data", "feeder", namespace=self.a.namespace,
                                        capacity=feeder_capacity)
        self.reader = DomainReaders(self.b.namespace, "market-data")
        self.got: list[tuple[str, bytes]] = []
        self._probes = 0

    def close(self) -> None:
        """Stop both nodes, close the reader, unlink every ring."""
        self.reader.close()
        self.feeder.unlink()
        self.feeder.close()
        self.a.close()
        self.b.close()

    def collect(self) -> int:
        """Read what arrived in B's rings into :attr:`got` (ring writer, frame); how many."""
        def keep(batch: RingBatch) -> None:
            self.got += [(batch.ring.writer, f) for f in batch.frames()]
        before = len(self.got)
        self.reader.discover(keep)
        self.reader.drain(keep)
        return len(self.got) - before

    def frames(self, writer: str = SOURCE) -> list[bytes]:
        """Frames collected from ``writer``'s ring on B, in order."""
        return [f for w, f in self.got if w == writer]

    def link_up(self, timeout: float = 60.0) -> int:
        """Write probes into A's ring until one arrives in B's ring, then wait for the last
        probe written; return how many frames :attr:`got` holds then (what follows is new)."""
        def arrived() -> bool:
            self._probes += 1
            self.feeder.write(probe_frame(self._probes))
            self.collect()
            return any(w == SOURCE and f[34:42] == probe_frame(0)[34:42] for w, f in self.got)
        wait_until(arrived, timeout, "the bridge link")
        last = probe_frame(self._probes)
        wait_until(lambda: self.collect() >= 0 and self.got[-1][1] == last, timeout,
                   "the last probe")
        return len(self.got)

    def wait_frames(self, count: int, timeout: float = 60.0) -> None:
        """Collect until :attr:`got` holds at least ``count`` frames."""
        wait_until(lambda: self.collect() >= 0 and len(self.got) >= count, timeout,
                   f"{count} frames in B's ring")


@contextlib.contextmanager
def bridge(*, start_out: bool = True, **kw: Any) -> Iterator[Bridge]:
    """A :class:`Bridge` in a fresh directory, its nodes started (bridge-out only if
    ``start_out``), torn down on exit."""
    with short_dir() as root:
        b = Bridge(root, **kw)
        try:
            hosts = [b.a, b.b] if start_out else [b.b]
            for h in hosts:
                h.launch()
            for h in hosts:
                h.wait_up()
            yield b
        finally:
            b.close()
