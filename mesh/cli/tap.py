"""``alphapulse tap``: an ad hoc subscriber an operator attaches at any time.

Filters by domain, message type, strategy (topic key) and source (publisher node) through the
topic prefix where it can, then prints each decoded frame as one JSON line (orjson) or a
compact table row, with its age (now minus the header timestamp) and any gap before it.

With ``--ring DOMAIN`` it reads the host's shared-memory rings of that domain instead
(:class:`mesh.rings.DomainReaders`, one broadcast reader per writer, which never slows the
writer), filtered by type, key and writer; frames it lost by falling behind are reported on
stderr and as ``lost_before`` on the next line, and a summary per ring ends the run.
Ctrl-C exits cleanly with status 0. The parser (and the checks of each option's value) is in
:mod:`mesh.cli.commands`.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

import orjson
import zmq

from alphapulse.errors import AlphaPulseError, ConfigError
from mesh.cli import one_line
from mesh.config import load_config
from mesh.domains import ring_domain
from mesh.protocol import REGISTRY, Frame, UnknownTLV, decode_frame
from mesh.protocol.constants import RelayDomain
from mesh.pubsub import Delivery, Subscriber
from mesh.sequence import Verdict
from mesh.topics import key_of, prefix

if TYPE_CHECKING:  # mesh.rings pulls in numba: imported only by ring taps
    from mesh.rings import RingBatch
    from shm.errors import RingError


def _tlv_json(t: Any) -> dict[str, Any]:
    if isinstance(t, UnknownTLV):
        return {"type": t.tlv_type, "unknown": t.value.hex()}
    return {"type": type(t).__name__, **t.to_json()}


def render(d: Delivery, fmt: str, missed: int) -> str:
    """One output line for a delivery."""
    h = d.frame.header
    age_us = (time.time_ns() - h.timestamp_ns) / 1000
    if fmt == "json":
        return orjson.dumps({
            "publisher": d.topic.publisher, "run": d.topic.run,
            "domain": RelayDomain(h.domain).name.lower(),
            "sequence": h.sequence, "stream_seq": d.topic.stream_seq, "key": d.topic.key,
            "source": h.source, "age_us": round(age_us, 1), "verdict": d.verdict.value,
            "missed_before": missed, "tlvs": [_tlv_json(t) for t in d.frame.tlvs],
        }).decode()
    names = ",".join(type(t).__name__ if not isinstance(t, UnknownTLV) else str(t.tlv_type)
                     for t in d.frame.tlvs)
    gap = f" GAP({missed})" if missed else ""
    return (f"{d.topic.publisher:<16} {RelayDomain(h.domain).name.lower():<11} "
            f"seq={h.sequence:<8} key={d.topic.key:<6} age={age_us:>9.1f}us {names}{gap}")


def cmd_tap(args: argparse.Namespace) -> int:
    """Subscribe with the narrowest prefix the filters allow; print until Ctrl-C/count/time."""
    cfg = load_config(args.config)
    if args.ring is not None:
        return tap_ring(args, cfg.ring_namespace)
    domain, tlv_type = args.domain, args.tlv_type
    if tlv_type is not None:  # a registered type (checked by the parser) fixes the domain
        type_domain = int(REGISTRY[tlv_type].DOMAIN)
        if domain is not None and domain != type_domain:
            raise ConfigError(f"type {tlv_type} is in the {RelayDomain(type_domain).name.lower()}"
                              f" domain, not {RelayDomain(domain).name.lower()}")
        domain = type_domain
    key = args.strategy
    if key is not None and (domain is None or tlv_type is None):
        raise ConfigError("--strategy needs --type (the key follows the type in topics)")
    source = args.source
    pfx = prefix(domain, tlv_type, key, source if key is not None else None)
    publishers = [source] if source in cfg.nodes else list(cfg.nodes)
    ctx = zmq.Context()
    secure = None
    if cfg.curve:
        from mesh.security import Security
        secure = Security(cfg, "operator").client
    sub = Subscriber(ctx, cfg, publishers, [pfx], recover_types=(), endpoints=args.endpoint,
                     secure=secure)
    shown = 0
    deadline = time.monotonic() + args.seconds if args.seconds else None
    try:
        while True:
            wait = 200 if deadline is None else int(max(0, deadline - time.monotonic()) * 1000)
            if deadline is not None and wait <= 0:
                break
            before = sub.stats.missed
            d = sub.recv(min(wait, 200))
            if d is None:
                continue
            if source is not None and d.topic.publisher != source:
                continue
            missed = sub.stats.missed - before if d.verdict is Verdict.GAP else 0
            sys.stdout.write(render(d, args.format, missed) + "\n")
            sys.stdout.flush()
            shown += 1
            if args.count and shown >= args.count:
                break
    except KeyboardInterrupt:
        pass
    finally:
        sub.close()
        ctx.term()
    return 0


def render_ring(ring: str, frame: Frame, fmt: str, lost: int) -> str:
    """One output line for a frame read from a ring (``lost``: frames lost just before it)."""
    h = frame.header
    age_us = (time.time_ns() - h.timestamp_ns) / 1000
    if fmt == "json":
        return orjson.dumps({
            "ring": ring, "domain": ring_domain(h.domain), "sequence": h.sequence,
            "source": h.source, "age_us": round(age_us, 1), "lost_before": lost,
            "tlvs": [_tlv_json(t) for t in frame.tlvs],
        }).decode()
    names = ",".join(type(t).__name__ if not isinstance(t, UnknownTLV) else str(t.tlv_type)
                     for t in frame.tlvs)
    loss = f" LOST({lost})" if lost else ""
    return f"{ring:<40} seq={h.sequence:<8} age={age_us:>9.1f}us {names}{loss}"


def tap_ring(args: argparse.Namespace, namespace: str) -> int:
    """Read every ring of ``args.ring`` in ``namespace``; print frames matching the filters."""
    if args.domain is not None and args.domain != args.ring:
        raise ConfigError("--domain and --ring name different domains")
    if args.tlv_type is not None and int(REGISTRY[args.tlv_type].DOMAIN) != args.ring:
        raise ConfigError(f"type {args.tlv_type} is not in the {ring_domain(args.ring)} domain")
    if args.endpoint:
        raise ConfigError("--endpoint is for ZeroMQ taps, not --ring")
    from mesh.rings import DomainReaders

    tap = _RingTap(args)
    readers = DomainReaders(namespace, RelayDomain(args.ring), start="latest",
                            writers=frozenset({args.source}) if args.source else None,
                            on_error=tap.attach_error)
    deadline = time.monotonic() + args.seconds if args.seconds else None
    next_discovery = 0.0
    try:
        while not tap.done and (deadline is None or time.monotonic() < deadline):
            if time.monotonic() >= next_discovery:
                readers.discover(tap.deliver)
                next_discovery = time.monotonic() + 0.2
            if readers.drain(tap.deliver) == 0:
                time.sleep(0.001)
    except KeyboardInterrupt:
        pass
    finally:
        for c in readers.counters():
            sys.stderr.write(f"tap: {c.ring}: read {c.frames_read}, lost {c.frames_lost}"
                             f"{f', {tap.bad} malformed' if tap.bad else ''}\n")
        readers.close()
    return 0


class _RingTap:
    """Filters and prints ring frames; a batch's loss is reported with its next printed line."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.shown = 0
        self.bad = 0
        self.done = False
        self._pending: dict[str, int] = {}
        self._refused: set[str] = set()

    def attach_error(self, exc: RingError) -> None:
        """Say once per distinct reason that a segment of the domain cannot be read."""
        if str(exc) not in self._refused:
            self._refused.add(str(exc))
            sys.stderr.write(f"tap: skipped: {one_line(str(exc))}\n")

    def deliver(self, batch: RingBatch) -> None:
        """Print the batch's frames that pass the filters."""
        ring = str(batch.ring)
        a = self.args
        if batch.lost:
            sys.stderr.write(f"tap: fell behind on {ring}: lost {batch.lost} frames\n")
            self._pending[ring] = self._pending.get(ring, 0) + batch.lost
        for raw in batch:
            if self.done:
                return
            try:
                frame = decode_frame(raw)
            except AlphaPulseError:
                self.bad += 1
                continue
            first = frame.tlvs[0] if frame.tlvs else None
            number = getattr(first, "TLV_TYPE", getattr(first, "tlv_type", None))
            if a.tlv_type is not None and number != a.tlv_type:
                continue
            if a.strategy is not None and key_of(first) != a.strategy:
                continue
            sys.stdout.write(render_ring(ring, frame, a.format, self._pending.pop(ring, 0))
                             + "\n")
            sys.stdout.flush()
            self.shown += 1
            self.done = bool(a.count) and self.shown >= a.count
