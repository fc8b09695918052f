"""``alphapulse tap``: an ad hoc subscriber an operator attaches at any time.

Filters by domain, message type, strategy (topic key) and source (publisher node) through the
topic prefix where it can, then prints each decoded frame as one JSON line (orjson) or a
compact table row, with its age (now minus the header timestamp) and any gap before it.
Ctrl-C exits cleanly with status 0. The parser (and the checks of each option's value) is in
:mod:`mesh.cli.commands`.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import orjson
import zmq

from alphapulse.errors import ConfigError
from mesh.config import load_config
from mesh.protocol import REGISTRY, UnknownTLV
from mesh.protocol.constants import RelayDomain
from mesh.pubsub import Delivery, Subscriber
from mesh.sequence import Verdict
from mesh.topics import prefix


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
            "publisher": d.topic.publisher, "domain": RelayDomain(h.domain).name.lower(),
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
