"""Benchmark rows: percentile summaries, the printed table and the JSON lines.

A :class:`Row` is one line of a benchmark's table. ``--json`` prints each row as one JSON
object with at least ``bench``, ``case``, ``p50_us``, ``p99_us``, ``p999_us``, ``max_us`` and
``per_s`` (``None`` where a figure does not apply).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

_COLUMNS = ("p50_us", "p90_us", "p99_us", "p999_us", "max_us", "per_s")


@dataclass(slots=True)
class Row:
    """One benchmark result; latency figures in microseconds, throughput per second."""

    bench: str
    case: str
    p50_us: float | None = None
    p90_us: float | None = None
    p99_us: float | None = None
    p999_us: float | None = None
    max_us: float | None = None
    per_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The row as the flat dict printed by ``--json``."""
        out: dict[str, Any] = {"bench": self.bench, "case": self.case}
        for name in _COLUMNS:
            out[name] = getattr(self, name)
        out.update(self.extra)
        return out


def latency_row(bench: str, case: str, samples_ns: np.ndarray, **extra: Any) -> Row:
    """Summarize latency samples (nanoseconds) into a row of microsecond percentiles."""
    us = np.asarray(samples_ns, dtype=np.float64) / 1000.0
    p50, p90, p99, p999 = np.percentile(us, [50, 90, 99, 99.9])
    return Row(
        bench, case, p50_us=float(p50), p90_us=float(p90), p99_us=float(p99),
        p999_us=float(p999), max_us=float(us.max()), extra={"samples": int(us.size), **extra},
    )


def rate_row(bench: str, case: str, count: int, seconds: float, **extra: Any) -> Row:
    """A throughput row: ``count`` operations in ``seconds``."""
    return Row(bench, case, per_s=count / seconds if seconds > 0 else None, extra=extra)


def us_per_op(run: Callable[[], int], expected: int) -> float:
    """Microseconds per operation of one call of ``run``, which returns how many it did.

    Raises ``AssertionError`` when ``run`` did not do the ``expected`` number.
    """
    t0 = time.perf_counter_ns()
    done = run()
    dt = time.perf_counter_ns() - t0
    assert done == expected, f"did {done} of {expected}"
    return dt / 1000 / expected


def per_op_row(bench: str, case: str, samples_us: list[float], **extra: Any) -> Row:
    """A row from per-operation times of several rounds: median (``p50_us``), worst round
    (``max_us``) and the median rate (``per_s``)."""
    arr = np.asarray(samples_us)
    median = float(np.median(arr))
    return Row(bench, case, p50_us=median, max_us=float(arr.max()), per_s=1e6 / median,
               extra=extra)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value >= 1e6:
            return f"{value / 1e6:.2f}M"
        if value >= 1e4:
            return f"{value / 1e3:.1f}k"
        return f"{value:.3g}" if value < 10 else f"{value:.1f}"
    return str(value)


def format_table(rows: list[Row]) -> str:
    """Render rows as an aligned text table (columns with no value anywhere are left out)."""
    if not rows:
        return "(no rows)"
    columns = ["case", *[c for c in _COLUMNS if any(getattr(r, c) is not None for r in rows)]]
    extras = sorted({k for r in rows for k in r.extra if k != "samples"})
    columns += extras
    cells = [[_fmt(r.case if c == "case" else getattr(r, c, None) if c in _COLUMNS else r.extra.get(c))
              for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = [f"== {rows[0].bench} (pid {os.getpid()}, medians of one run; compare rows, not machines)"]
    lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(columns, widths, strict=True))))
    for row in cells:
        lines.append("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths, strict=True))))
    return "\n".join(lines)


def json_lines(rows: list[Row]) -> str:
    """Render rows as one JSON object per line."""
    return "\n".join(orjson.dumps(r.as_dict()).decode() for r in rows)
