"""``TraceContext`` spans: how a hop starts a trace, carries it, and reads it back from a frame.

A traced frame ends with its spans, newest first: ``[payload TLVs..., span_n, ..., span_0]``.
Every span of a trace has the same ``trace_id`` and ``start_timestamp_ns`` (the collector's
receive time of the block that started it); ``span_depth`` is 0 at the root and one more per
hop; ``current_timestamp_ns`` is when that hop produced its frame. A reader that takes the first
``TraceContext`` (upstream's rule for repeated types) gets the newest hop's context.

Spans are untrusted input: :func:`read_spans` keeps the good ones and names each bad one by
kind (a wrong size, impossible times, a depth that cannot grow, a foreign trace id, too many);
the hop counts the kinds and carries on (docs/tracing.md).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from mesh.protocol.constants import HEADER_SIZE
from mesh.protocol.messages import TraceContext

__all__ = ["COLLECTED", "EXECUTED", "MAX_SPANS", "PROCESSED", "RELAYED", "Carried", "carry", "read_spans",
           "root", "trace_id_of"]

#: stage_flags bits (upstream's meaning); each hop ORs its own into what it carries.
COLLECTED, RELAYED, PROCESSED, EXECUTED = 0x01, 0x02, 0x04, 0x08
#: Most spans a frame carries (the newest kept); a longer chain is cut and counted.
MAX_SPANS = 8
#: How far in the future (clock skew between hosts) a span's time may be; later is absurd.
FUTURE_SLACK_NS = 60 * 10**9
_TYPE = TraceContext.TLV_TYPE
_SIZE = TraceContext.LAYOUT.size
_LAYOUT = struct.Struct("<QQBBBB4x8s")
_I64 = 2**63


@dataclass(slots=True)
class Carried:
    """A hop's spans (newest first, its own at index 0) and the problems met reading the input."""

    spans: list[TraceContext]
    problems: list[str] = field(default_factory=list)


def trace_id_of(start_ns: int) -> bytes:
    """The trace id of a trace started at ``start_ns``: its little-endian bytes (upstream's rule)."""
    return (start_ns & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "little")


def root(source: int, start_ns: int, now_ns: int, stage: int) -> TraceContext:
    """A new trace's first span: started at ``start_ns`` (the receive time), produced at ``now_ns``."""
    return TraceContext(start_timestamp_ns=start_ns, current_timestamp_ns=max(now_ns, start_ns),
                        source_service=source & 0xFF, span_depth=0, stage_flags=stage & 0xFF, reserved=0,
                        trace_id=trace_id_of(start_ns))


def _problem(span: TraceContext, now_ns: int) -> str | None:
    start, current = span.start_timestamp_ns, span.current_timestamp_ns
    if start == 0 or current < start or current >= _I64 or current > now_ns + FUTURE_SLACK_NS:
        return "trace_time"
    return None


def read_spans(frame: bytes | bytearray | memoryview, now_ns: int) -> Carried:
    """The good spans of ``frame`` (newest first) and the kind of every bad one.

    Kinds: ``trace_size`` (a TraceContext TLV not 32 bytes long), ``trace_time`` (no start, a
    current time before the start, past 2^63 or more than a minute ahead of ``now_ns``),
    ``trace_mixed`` (a span of another trace than the newest good one), ``trace_spans`` (more
    than :data:`MAX_SPANS`). Bad TLV framing ends the walk without a kind: the frame's decoder
    owns that error.
    """
    out = Carried([])
    pos, end = HEADER_SIZE, len(frame)
    while pos + 2 <= end:
        kind = frame[pos]
        if kind == 255:  # extended form: [255][0][type][len u16]
            if pos + 5 > end:
                break
            kind, value, length = frame[pos + 2], pos + 5, frame[pos + 3] | (frame[pos + 4] << 8)
        else:
            value, length = pos + 2, frame[pos + 1]
        if value + length > end:
            break
        pos = value + length
        if kind != _TYPE:
            continue
        if length != _SIZE:
            out.problems.append("trace_size")
            continue
        start, current, source, depth, flags, reserved, tid = _LAYOUT.unpack_from(frame, value)
        span = TraceContext(start_timestamp_ns=start, current_timestamp_ns=current, source_service=source,
                            span_depth=depth, stage_flags=flags, reserved=reserved, trace_id=tid)
        bad = _problem(span, now_ns)
        if bad is None and out.spans and span.trace_id != out.spans[0].trace_id:
            bad = "trace_mixed"
        if bad is not None:
            out.problems.append(bad)
        elif len(out.spans) == MAX_SPANS:
            out.problems.append("trace_spans")
        else:
            out.spans.append(span)
    return out


def carry(frame: bytes | bytearray | memoryview | None, source: int, stage: int, now_ns: int,
          start_ns: int | None = None) -> Carried:
    """This hop's spans: a new span on top of ``frame``'s good ones, or a new trace.

    The new span keeps the newest span's trace id and start, one deeper (``trace_depth``
    counted, and the depth kept at 255, when it cannot grow), its stage flags ORed with
    ``stage``, produced at ``now_ns``. Without a good span in ``frame`` the hop starts a trace of
    its own at ``start_ns`` (default ``now_ns``).
    """
    got = read_spans(frame, now_ns) if frame is not None else Carried([])
    if not got.spans:
        got.spans = [root(source, now_ns if start_ns is None else start_ns, now_ns, stage)]
        return got
    top = got.spans[0]
    if top.span_depth >= 255:
        got.problems.append("trace_depth")
    mine = TraceContext(start_timestamp_ns=top.start_timestamp_ns,
                        current_timestamp_ns=max(now_ns, top.start_timestamp_ns), source_service=source & 0xFF,
                        span_depth=min(top.span_depth + 1, 255), stage_flags=(top.stage_flags | stage) & 0xFF,
                        reserved=0, trace_id=top.trace_id)
    got.spans = [mine, *got.spans[:MAX_SPANS - 1]]
    return got
