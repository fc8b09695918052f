"""Maximise an exact integer function of an integer that is concave up to a small saw-tooth.

:func:`maximise` is Brent's idea on the integers: successive parabolic interpolation through the
bracketing triple, with a golden-section step whenever the parabola is unusable (a flat or
infeasible point, a vertex outside the bracket, a step not shrinking fast enough). The parabola's
vertex is computed in exact integer arithmetic, so large inputs and profits lose nothing to
floats. The search stops once the bracket is narrower than ``rel_tol`` of the input (the profit
is then flat to well below one part in a million) or than ``resolution``, and ends with a scan of the
integers around the best point, as the saw-tooth may hide a slightly better neighbour.

``f`` returns None where the input is infeasible (a swap would revert or leave the known ticks);
feasibility is assumed to be an interval of inputs, as it is for exact-input swaps (a larger
input goes further in every pool).
"""

from __future__ import annotations

from collections.abc import Callable

#: Golden-section fraction, as a ratio of integers (0.381966...).
GOLDEN_NUM, GOLDEN_DEN = 381_966, 1_000_000
#: Safety cap on narrowing steps (a bracket of 2**112 needs about 165 golden steps).
MAX_STEPS = 400


class _Memo:
    """``f`` memoised (each distinct input evaluated once) and the best point seen."""

    def __init__(self, f: Callable[[int], int | None]):
        self.f = f
        self.seen: dict[int, int | None] = {}

    def __call__(self, x: int) -> int | None:
        if x not in self.seen:
            self.seen[x] = self.f(x)
        return self.seen[x]

    def best(self) -> tuple[int, int] | None:
        """The best feasible ``(x, f(x))`` seen (ties: the smallest ``x``), None if none was."""
        feasible = [(v, -x) for x, v in self.seen.items() if v is not None]
        if not feasible:
            return None
        v, neg = max(feasible)
        return -neg, v


def _better(a: int | None, b: int | None) -> bool:
    """``a > b`` with None (infeasible) below every value."""
    return a is not None and (b is None or a > b)


def _bracket(f: _Memo, x0: int, lo: int, hi: int) -> tuple[int, int, int]:
    """``a < b < c`` (or touching ``lo``/``hi``) with ``f(b)`` at least ``f(a)`` and ``f(c)``,
    found by steps growing geometrically from ``x0`` in the rising direction."""
    b = min(hi, max(lo, x0))
    step = max(1, b // 4)
    a, c = max(lo, b - step), min(hi, b + step)
    while True:
        if _better(f(c), f(b)) and c < hi:
            a, b = b, c
            step *= 2
            c = min(hi, b + step)
        elif _better(f(a), f(b)) and a > lo:
            c, b = b, a
            step *= 2
            a = max(lo, b - step)
        elif f(b) is None and f(a) is None and a > lo:
            c, b = b, a  # infeasible to the right: walk down until something is feasible
            step *= 2
            a = max(lo, b - step)
        else:
            return a, b, c


def _parabola(a: int, b: int, c: int, fa: int, fb: int, fc: int) -> int | None:
    """Vertex of the parabola through the three points, rounded to an integer (None if flat)."""
    p, q, da, dc = b - a, c - b, fb - fa, fb - fc
    den = p * dc + q * da
    if den <= 0:
        return None
    num = p * p * dc - q * q * da
    return b - (2 * num + 2 * den) // (4 * den) if num >= 0 else b + (-2 * num + 2 * den) // (4 * den)


def _golden(a: int, b: int, c: int) -> int:
    """A golden-section point in the larger of ``[a, b]`` and ``[b, c]``."""
    if c - b >= b - a:
        return b + max(1, (c - b) * GOLDEN_NUM // GOLDEN_DEN)
    return b - max(1, (b - a) * GOLDEN_NUM // GOLDEN_DEN)


def maximise(f: Callable[[int], int | None], x0: int, lo: int, hi: int, *, rel_tol: float = 1e-9,
             resolution: int = 1, scan: int = 4) -> tuple[int, int] | None:
    """The best ``(x, f(x))`` found in ``[lo, hi]`` starting from ``x0`` (None if no point is
    feasible; ties: the smallest ``x``).

    Narrowing stops when the bracket is within ``max(resolution, rel_tol * x)`` of the best
    point (``resolution`` at least 1); then every integer within ``scan`` of it is evaluated.
    ``f`` is called once per distinct input.
    """
    f = _Memo(f)
    resolution = max(1, resolution)
    a, b, c = _bracket(f, x0, lo, hi)
    widths = [c - a]
    for _ in range(MAX_STEPS):
        tol = max(resolution, int(b * rel_tol))
        if c - a <= 2 * tol:
            break
        u = _next_point(f, a, b, c, tol, parabolic=len(widths) < 3 or 2 * widths[-1] <= widths[-3])
        if _better(f(u), f(b)):
            a, b, c = (b, u, c) if u > b else (a, u, b)
        elif u > b:
            c = u
        else:
            a = u
        widths.append(c - a)
    near = range(max(lo, b - scan), min(hi, b + scan) + 1)
    if c - a <= 2 * scan + 2:
        near = range(max(lo, min(a, near.start)), max(c, near.stop - 1) + 1)
    for x in near:
        f(x)
    return f.best()


def _next_point(f: _Memo, a: int, b: int, c: int, tol: int, parabolic: bool) -> int:
    """The next point to evaluate strictly inside ``(a, c)``: the parabola's vertex when usable
    (moved ``tol`` away from ``b`` when closer), else a golden-section point."""
    fa, fb, fc = f(a), f(b), f(c)
    u = None
    if parabolic and fa is not None and fb is not None and fc is not None:
        u = _parabola(a, b, c, fa, fb, fc)
    if u is not None and abs(u - b) < tol:
        u = b + tol if c - b >= b - a else b - tol
    if u is None or not a < u < c or u == b:
        u = _golden(a, b, c)
    return u
