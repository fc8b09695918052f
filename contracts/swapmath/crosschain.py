"""The exact best size of a cross-chain trade: buy an asset on one chain, bridge it, sell it on another.

Two pools trade the same asset ``X`` against the same quote asset ``Q``, one on each chain. A
trade of ``q`` raw units of ``Q`` on the *source* chain goes, every step an exact integer and
every rounding against us:

1. ``x1 = out_S(q)``: the source pool's exact output of ``X``
   (:func:`contracts.swapmath.sizing.exact_amount_out`: ``getAmountOut`` or the V3 swap loop);
2. ``fee = fixed_x + ceil(x1 * fee_ppm / 1e6)``: the bridge's charge, in source raw ``X``;
3. ``x2 = rescale(max(0, x1 - fee), x_decimals)``: what arrives, in destination raw ``X``
   (decimals converted exactly, down when the destination has fewer);
4. ``y = out_D(x2)``: the destination pool's exact output of ``Q``;
5. ``haircut = ceil(y * haircut_ppm_per_min * latency_s / (60 * 1e6))``: the price risk of
   the bridge's latency, a share of the destination output per minute in flight;
6. ``net = rescale(y - haircut, q_decimals)`` in source raw ``Q``, down;
7. ``profit = net - q - gas_source - rescale_up(gas_dest)``.

:func:`optimise` finds the integer ``q`` that maximises ``profit`` with the exact search of
:mod:`contracts.swapmath.sizing` (a float Mobius start, integer Brent narrowing by
:func:`contracts.swapmath.search.maximise`, the plateau search where coarse units make a
saw-tooth). Without the floors the chain is a Mobius transform of ``q`` (each V2 hop is one, the
bridge an affine map), so the real profit is concave with one maximum, given in closed form by
:func:`real_optimum` for two V2 pairs; the tests hold :func:`optimise` equal to a brute force
over small pools and at least as good as every integer near that closed form.

Nothing here reads a chain or knows chain ids: the caller gives the two states.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from contracts.swapmath.cycles import MAX_INPUT, SCREEN
from contracts.swapmath.flash import BadSizing
from contracts.swapmath.libs import SwapReverted
from contracts.swapmath.pools import TicksUnknown, V2Pool, V3Pool, spot_rate
from contracts.swapmath.search import maximise
from contracts.swapmath.sizing import SCAN, _float_hop, _plateau_search, _Route, exact_amount_out

Pool = V2Pool | V3Pool
PPM = 1_000_000
#: Denominator of the latency haircut: ppm of the output per minute, latency in seconds.
HAIRCUT_DEN = 60 * PPM

__all__ = ["Bridge", "Leg", "Legs", "Route", "evaluate", "gas_total", "marginal", "optimise", "real_optimum", "rescale"]


@dataclass(frozen=True, slots=True)
class Bridge:
    """What moving ``X`` across costs: a fixed raw amount of source ``X``, a fee in ppm of the
    bridged amount, and the time in flight with its haircut (ppm of the destination output per
    minute of ``latency_s``)."""

    fixed_x: int = 0
    fee_ppm: int = 0
    latency_s: int = 0
    haircut_ppm_per_min: int = 0

    def __post_init__(self) -> None:
        if self.fixed_x < 0 or self.latency_s < 0 or self.haircut_ppm_per_min < 0:
            raise BadSizing(f"bridge figures must not be negative: {self}")
        if not 0 <= self.fee_ppm < PPM:
            raise BadSizing(f"bridge fee_ppm {self.fee_ppm} outside [0, {PPM})")

    def fee(self, x: int) -> int:
        """The bridge's charge on ``x`` raw source ``X`` (the ppm part rounded up)."""
        return self.fixed_x + -(-x * self.fee_ppm // PPM)

    def haircut(self, y: int) -> int:
        """The latency haircut on ``y`` raw destination ``Q``, rounded up, at most ``y``."""
        return min(y, -(-y * self.haircut_ppm_per_min * self.latency_s // HAIRCUT_DEN))


@dataclass(frozen=True, slots=True)
class Leg:
    """One chain's side: its pool and the direction that trades ``Q`` for ``X`` on it.

    ``buy_zero_for_one`` is True when ``Q`` is the pool's token0 (buying ``X`` swaps token0
    for token1); selling ``X`` on this pool is the other direction.
    """

    pool: Pool
    buy_zero_for_one: bool
    x_decimals: int
    q_decimals: int


@dataclass(frozen=True, slots=True)
class Route:
    """A direction of the trade: buy on ``source``, bridge, sell on ``dest``; gas of each leg in
    raw ``Q`` of its own chain."""

    source: Leg
    dest: Leg
    bridge: Bridge
    gas_source: int = 0
    gas_dest: int = 0

    def reverse(self) -> Route:
        """The other direction, same bridge (gas figures follow their chains)."""
        return Route(self.dest, self.source, self.bridge, self.gas_dest, self.gas_source)


@dataclass(frozen=True, slots=True)
class Legs:
    """Every quantity of one trade of ``amount_in``, exactly (raw units; ``profit`` in source ``Q``)."""

    amount_in: int
    x_bought: int
    bridge_fee: int
    x_arrived: int
    q_out: int
    haircut: int
    expected_out: int
    gas: int
    profit: int


def rescale(amount: int, from_decimals: int, to_decimals: int, *, up: bool = False) -> int:
    """``amount`` raw units at ``from_decimals`` in raw units at ``to_decimals`` (down unless ``up``)."""
    if from_decimals <= to_decimals:
        return amount * 10 ** (to_decimals - from_decimals)
    den = 10 ** (from_decimals - to_decimals)
    return -(-amount // den) if up else amount // den


def gas_total(route: Route) -> int:
    """Both legs' gas in raw source ``Q`` (the destination's rescaled up)."""
    return route.gas_source + rescale(route.gas_dest, route.dest.q_decimals, route.source.q_decimals, up=True)


def evaluate(route: Route, amount_in: int) -> Legs:
    """The exact trade of ``amount_in`` raw source ``Q`` along ``route``.

    Raises
    ------
    SwapReverted
        A pool would revert (or a V3 swap stop at its price bound with input left).
    TicksUnknown
        A V3 swap needs ticks beyond the known bitmap words.
    """
    src, dst = route.source, route.dest
    x1 = exact_amount_out(src.pool, src.buy_zero_for_one, amount_in)
    fee = min(x1, route.bridge.fee(x1))
    x2 = rescale(x1 - fee, src.x_decimals, dst.x_decimals)
    y = exact_amount_out(dst.pool, not dst.buy_zero_for_one, x2) if x2 > 0 else 0
    cut = route.bridge.haircut(y)
    net = rescale(y - cut, dst.q_decimals, src.q_decimals)
    gas = gas_total(route)
    return Legs(amount_in, x1, fee, x2, y, cut, y - cut, gas, net - amount_in - gas)


def marginal(route: Route) -> float:
    """Net marginal source ``Q`` back per ``Q`` in at zero size (float, for the screen)."""
    src, dst, b = route.source, route.dest, route.bridge
    rate = spot_rate(src.pool, src.buy_zero_for_one) * (1 - b.fee_ppm / PPM)
    rate *= 10.0 ** (dst.x_decimals - src.x_decimals) * spot_rate(dst.pool, not dst.buy_zero_for_one)
    rate *= 1 - min(1.0, b.haircut_ppm_per_min * b.latency_s / HAIRCUT_DEN)
    return rate * 10.0 ** (src.q_decimals - dst.q_decimals)


def _float_start(route: Route) -> int | None:
    """The real optimum of the float Mobius model of both pools and the bridge (None without depth)."""
    src, dst, b = route.source, route.dest, route.bridge
    first, second = _float_hop(src.pool, src.buy_zero_for_one), _float_hop(dst.pool, not dst.buy_zero_for_one)
    if first is None or second is None:
        return None
    scale_x = 10.0 ** (dst.x_decimals - src.x_decimals)
    keep = (1 - min(1.0, b.haircut_ppm_per_min * b.latency_s / HAIRCUT_DEN)) * 10.0 ** (src.q_decimals -
                                                                                         dst.q_decimals)
    m = _mobius_matrix(first[0], first[1], second[0], second[1],
                       (1 - b.fee_ppm / PPM) * scale_x, -b.fixed_x * scale_x)
    x = _vertex(m, keep)
    return None if x is None else max(1, int(x))


def _mobius_matrix(m1: float, k1: float, m2: float, k2: float, a: float, c: float) -> tuple[float, ...]:
    """``(p, q, r, s)`` with ``out(x) = (p x + q) / (r x + s)``: hop ``m1 x / (1 + k1 x)``, then
    ``a x + c``, then hop ``m2 x / (1 + k2 x)`` (2x2 matrices multiplied)."""
    # hop1 = [[m1, 0], [k1, 1]], affine = [[a, c], [0, 1]], hop2 = [[m2, 0], [k2, 1]]
    p, q, r, s = a * m1 + c * k1, c, k1, 1.0
    return m2 * p, m2 * q, k2 * p + r, k2 * q + s


def _vertex(m: tuple[float, ...], keep: float) -> float | None:
    """Where ``keep * out(x) - x`` is largest for ``out = (p x + q) / (r x + s)``; None if nowhere
    positive slope."""
    p, q, r, s = m
    det = p * s - q * r
    if det <= 0 or r <= 0 or keep * det <= 0:
        return None
    x = (math.sqrt(keep * det) - s) / r
    return x if math.isfinite(x) and x >= 1 else None


def real_optimum(route: Route) -> tuple[float, float] | None:
    """For two V2 pairs: the real (unrounded) best input and its profit in source ``Q``, before
    gas (an upper bound of every integer input's exact profit plus gas); None for V3 pools or no
    profit."""
    src, dst, b = route.source, route.dest, route.bridge
    if not isinstance(src.pool, V2Pool) or not isinstance(dst.pool, V2Pool):
        return None
    first, second = _float_hop(src.pool, src.buy_zero_for_one), _float_hop(dst.pool, not dst.buy_zero_for_one)
    if first is None or second is None:
        return None
    scale_x = 10.0 ** (dst.x_decimals - src.x_decimals)
    keep = (1 - b.haircut_ppm_per_min * b.latency_s / HAIRCUT_DEN) * 10.0 ** (src.q_decimals - dst.q_decimals)
    m = _mobius_matrix(*first, *second, (1 - b.fee_ppm / PPM) * scale_x, -b.fixed_x * scale_x)
    x = _vertex(m, keep)
    if x is None:
        return None
    p, q, r, s = m
    return x, keep * (p * x + q) / (r * x + s) - x


def optimise(route: Route, *, max_input: int = MAX_INPUT, scan: int = SCAN,
             rel_tol: float = 0.0) -> Legs | None:
    """The integer ``amount_in`` with the largest exact profit along ``route`` (ties: the
    smallest), and its legs; None when no input profits (``profit`` <= 0, gas included).

    Inputs where a pool would revert or a V3 swap leaves its known ticks are infeasible. The
    search narrows to single units by default (``rel_tol`` 0: a few dozen more evaluations than
    the cycle sizing's 1e-9, and the profit is then the best integer's, not within a unit of it
    per 1e9 of input).
    """
    if marginal(route) < SCREEN:  # concave profit falling from zero size: nothing to find
        return None
    gas = gas_total(route)

    def out(q: int) -> int:
        legs = evaluate(route, q)
        return legs.profit + q

    sized = _Route(out, None, fee=None, top=max_input)
    start = min(_float_start(route) or 1, max_input)
    found = maximise(sized.profit, start, 1, max_input, rel_tol=rel_tol, scan=max(1, scan))
    if found is not None and found[1] > 0:
        _plateau_search(sized, found[0], rel_tol)
    best = sized.best()
    if best is None:
        return None
    try:
        legs = evaluate(route, best.amount_in)
    except (SwapReverted, TicksUnknown):  # pragma: no cover - evaluated feasible a moment ago
        return None
    assert legs.gas == gas
    return legs if legs.profit > 0 else None

