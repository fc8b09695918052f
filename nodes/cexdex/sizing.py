"""The exact size of one CEX-DEX trade: both legs in integers, every rounding against us.

The size is the CEX quantity in lots, ``n``: ``Q = n * lot_q8`` (base × 1e8). For each ``n``:

- direction 0 (:attr:`~mesh.protocol.constants.CexDexDirection.BUY_DEX_SELL_CEX`): the pool must
  pay at least ``Q`` in raw base units (``ceil(Q * 10**base_decimals / 1e8)``); the DEX input is
  the *smallest* exact input of quote whose exact output reaches that (any surplus base is kept
  and valued at nothing); the CEX sells ``Q`` into the bids, best first: proceeds
  ``floor(notional)`` in raw quote, taker fee ``ceil(notional * fee_ppm / 1e6)``;
- direction 1 (:attr:`~mesh.protocol.constants.CexDexDirection.BUY_CEX_SELL_DEX`): the CEX buys
  ``Q`` from the asks: cost ``ceil(notional)`` plus the fee, rounded up likewise (the fee is
  booked in the quote asset); the pool gets ``floor(Q * 10**base_decimals / 1e8)`` raw base as
  its exact input and pays its exact output in quote.

``notional`` is ``sum(quantity_i * price_i)`` over the levels taken (× 1e16, exact), converted to
raw quote units with the quote token's decimals. The profit is raw quote: what the sale brings
minus what the purchase costs, the taker fee and the DEX leg's gas (already in raw quote, rounded
up by the caller). Pool outputs are exact (``contracts.swapmath``: V2 ``getAmountOut``, the V3
swap loop over the known ticks); a size the pool cannot serve (a revert, ticks beyond the known
bitmap words, a reserve past uint112) or the book cannot fill is infeasible.

The profit is concave in ``n`` up to the saw-tooth of these roundings (a few raw units), so
:func:`size` finds the best ``n`` with the project's exact integer search
(:func:`contracts.swapmath.search.maximise`: bracketing, parabolic and golden steps, a final scan
of the neighbours), or by evaluating every ``n`` when there are few.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from contracts.swapmath.libs import SwapReverted
from contracts.swapmath.pools import TicksUnknown, V2Pool, V3Pool, spot_rate, v3_swap
from contracts.swapmath.search import maximise
from mesh.protocol.constants import CexDexDirection

Pool = V2Pool | V3Pool
#: One CEX level: (price, size), both × 1e8.
Level = tuple[int, int]

Q8 = 10**8
Q16 = 10**16
PPM = 10**6
#: A V2 pair's reserves are uint112: a swap leaving more reverts (``UniswapV2: OVERFLOW``).
MAX_RESERVE = 2**112 - 1
#: Largest exact input tried when looking for the smallest one that pays enough.
MAX_INPUT = 2**128 - 1
#: With at most this many sizes, every one is evaluated.
SCAN_ALL = 64
#: Sizes scanned each side of the narrowed best.
SCAN = 4
#: A float screen passes within this relative margin (floats only screen, never decide).
SCREEN_MARGIN = 1e-9


@dataclass(frozen=True, slots=True)
class Market:
    """One pool and one CEX book, as :func:`size` sizes them.

    Attributes
    ----------
    pool : V2Pool or V3Pool
        The pool's exact state (token addresses lower case).
    base, quote : str
        The base and quote tokens on chain, lower case.
    base_decimals, quote_decimals : int
    bids, asks : sequence of Level
        The CEX book, best first (× 1e8).
    taker_fee_ppm : int
    lot_q8 : int
        The CEX lot size (base × 1e8); the CEX quantity is a multiple of it.
    gas_cost : int
        The DEX leg's gas in raw quote units (rounded up).
    """

    pool: Pool
    base: str
    quote: str
    base_decimals: int
    quote_decimals: int
    bids: Sequence[Level]
    asks: Sequence[Level]
    taker_fee_ppm: int
    lot_q8: int
    gas_cost: int


@dataclass(frozen=True, slots=True)
class Sized:
    """Both legs of one size, exact.

    ``cex_amount`` is the CEX leg's raw quote before the fee: proceeds (direction 0, rounded
    down) or cost (direction 1, rounded up); ``cex_fee`` the taker fee in raw quote (rounded up);
    ``cex_notional`` the exact ``sum(quantity * price)`` × 1e16.
    """

    direction: CexDexDirection
    lots: int
    cex_quantity: int
    cex_notional: int
    cex_amount: int
    cex_fee: int
    dex_amount_in: int
    dex_amount_out: int
    gas_cost: int
    profit: int

    @property
    def cex_price(self) -> int:
        """Average CEX price over the levels taken × 1e8 (down when selling, up when buying)."""
        if self.direction == CexDexDirection.BUY_DEX_SELL_CEX:
            return self.cex_notional // self.cex_quantity
        return -(-self.cex_notional // self.cex_quantity)


def walk(levels: Sequence[Level], quantity: int) -> int | None:
    """``sum(quantity_i * price_i)`` (× 1e16) of taking ``quantity`` (× 1e8) from ``levels``,
    best first; None when the levels hold less."""
    left, notional = quantity, 0
    for price, available in levels:
        take = min(left, available)
        notional += take * price
        left -= take
        if left == 0:
            return notional
    return None if left else notional


def depth(levels: Sequence[Level]) -> int:
    """Total quantity of ``levels`` (× 1e8)."""
    return sum(size for _, size in levels)


def base_raw(quantity_q8: int, decimals: int, *, up: bool) -> int:
    """Base × 1e8 in raw units of a token with ``decimals``, rounded up or down."""
    num, den = quantity_q8 * 10**decimals, Q8
    return -(-num // den) if up else num // den


def quote_raw(notional_q16: int, decimals: int, *, up: bool) -> int:
    """A notional × 1e16 in raw units of a token with ``decimals``, rounded up or down."""
    num, den = notional_q16 * 10**decimals, Q16
    return -(-num // den) if up else num // den


def taker_fee(notional_q16: int, fee_ppm: int, decimals: int) -> int:
    """The taker fee on a notional × 1e16, raw quote units, rounded up."""
    num, den = notional_q16 * fee_ppm * 10**decimals, Q16 * PPM
    return -(-num // den)


def pool_out(pool: Pool, zero_for_one: bool, amount_in: int) -> int | None:
    """The pool's exact output for an exact input; None where the swap cannot happen (a revert,
    ticks beyond the known words, a V2 reserve past uint112, a V3 swap stopping short of its
    input at the price bound)."""
    if amount_in <= 0:
        return 0
    try:
        if isinstance(pool, V2Pool):
            reserve_in = pool.reserve0 if zero_for_one else pool.reserve1
            if reserve_in + amount_in > MAX_RESERVE:
                return None
            return pool.amount_out(zero_for_one, amount_in)
        result = v3_swap(pool, zero_for_one, amount_in)
    except (SwapReverted, TicksUnknown):
        return None
    spent = result.amount0 if zero_for_one else result.amount1
    return result.amount_out(zero_for_one) if spent == amount_in else None


def _input_guess(pool: Pool, zero_for_one: bool, need: int) -> int:
    """An exact input close to the smallest that pays ``need`` (the pool's own exact-output
    rule: ``getAmountIn`` for V2, an exact-output swap for V3); 1 when there is none."""
    if isinstance(pool, V2Pool):
        r_in, r_out = (pool.reserve0, pool.reserve1) if zero_for_one else (pool.reserve1, pool.reserve0)
        if need >= r_out or r_in <= 0:
            return 1
        return r_in * need * 10_000 // ((r_out - need) * (10_000 - pool.fee_bps)) + 1
    try:
        result = v3_swap(pool, zero_for_one, -need)
    except (SwapReverted, TicksUnknown):
        return 1
    return max(1, result.amount0 if zero_for_one else result.amount1)


def min_input(pool: Pool, zero_for_one: bool, need: int) -> tuple[int, int] | None:
    """The smallest exact input whose exact output is at least ``need``, and that output; None
    when no input up to :data:`MAX_INPUT` pays it.

    Starts from the pool's exact-output rule (usually right, or off by a unit) and gallops, then
    bisects, over exact-input outputs, which never decrease with the input.
    """
    outs: dict[int, int] = {}

    def ok(x: int) -> bool:
        if x not in outs:
            got = pool_out(pool, zero_for_one, x)
            outs[x] = -1 if got is None else got
        return outs[x] >= need

    x = min(MAX_INPUT, _input_guess(pool, zero_for_one, need))
    if ok(x):
        step = 1
        while x - step >= 1 and ok(x - step):
            x -= step
            step *= 2
        lo, hi = max(0, x - step), x  # ok(hi); lo is 0 or not ok
    else:
        lo, step = x, 1
        while True:
            hi = lo + step
            if hi > MAX_INPUT:
                return None
            if ok(hi):
                break
            lo, step = hi, step * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi, outs[hi]


def zero_for_one_buying_base(m: Market) -> bool:
    """The swap direction that pays base for quote (token0 in when quote is token0)."""
    return m.pool.token0.lower() == m.quote


def evaluate(m: Market, direction: CexDexDirection, lots: int) -> Sized | None:
    """Both legs of ``lots`` lots, exact; None when the book or the pool cannot take them."""
    quantity = lots * m.lot_q8
    if direction == CexDexDirection.BUY_DEX_SELL_CEX:
        notional = walk(m.bids, quantity)
        if notional is None:
            return None
        need = base_raw(quantity, m.base_decimals, up=True)
        found = min_input(m.pool, zero_for_one_buying_base(m), need)
        if found is None:
            return None
        dex_in, dex_out = found
        proceeds = quote_raw(notional, m.quote_decimals, up=False)
        fee = taker_fee(notional, m.taker_fee_ppm, m.quote_decimals)
        profit = proceeds - fee - dex_in - m.gas_cost
        return Sized(direction, lots, quantity, notional, proceeds, fee, dex_in, dex_out, m.gas_cost, profit)
    notional = walk(m.asks, quantity)
    if notional is None:
        return None
    dex_in = base_raw(quantity, m.base_decimals, up=False)
    paid = pool_out(m.pool, not zero_for_one_buying_base(m), dex_in)
    if paid is None:
        return None
    cost = quote_raw(notional, m.quote_decimals, up=True)
    fee = taker_fee(notional, m.taker_fee_ppm, m.quote_decimals)
    profit = paid - cost - fee - m.gas_cost
    return Sized(direction, lots, quantity, notional, cost, fee, dex_in, paid, m.gas_cost, profit)


def max_lots(m: Market, direction: CexDexDirection) -> int:
    """Most lots the book side a direction takes can fill."""
    side = m.bids if direction == CexDexDirection.BUY_DEX_SELL_CEX else m.asks
    return depth(side) // m.lot_q8 if m.lot_q8 > 0 else 0


def size(m: Market, direction: CexDexDirection, *, scan_all: int = SCAN_ALL) -> Sized | None:
    """The size of the largest profit (ties: the fewest lots), exact; None when no size is
    feasible. The profit returned may be negative: the caller applies its threshold."""
    hi = max_lots(m, direction)
    if hi < 1:
        return None
    seen: dict[int, Sized | None] = {}

    def profit(lots: int) -> int | None:
        if lots not in seen:
            seen[lots] = evaluate(m, direction, lots)
        s = seen[lots]
        return None if s is None else s.profit

    if hi <= scan_all:
        for lots in range(1, hi + 1):
            profit(lots)
    else:
        maximise(profit, 1, 1, hi, scan=SCAN)
    best: Sized | None = None
    for lots in sorted(seen):
        s = seen[lots]
        if s is not None and (best is None or s.profit > best.profit):
            best = s
    return best


def marginal_prices(m: Market) -> tuple[float, float]:
    """The pool's price at zero size after its fee, quote per base in human units (floats, for
    screening): what buying base costs and what selling base brings."""
    scale = 10**m.base_decimals / 10**m.quote_decimals
    buy_rate = spot_rate(m.pool, zero_for_one_buying_base(m))  # base raw per quote raw
    sell_rate = spot_rate(m.pool, not zero_for_one_buying_base(m))  # quote raw per base raw
    buy = scale / buy_rate if buy_rate > 0 else float("inf")
    return buy, sell_rate * scale


def spread_bps(m: Market, direction: CexDexDirection) -> float | None:
    """(CEX best − pool marginal price) / pool marginal price in bps, before fees (float); None
    without the book side or a pool price."""
    buy, sell = marginal_prices(m)
    if direction == CexDexDirection.BUY_DEX_SELL_CEX:
        if not m.bids or not 0 < buy < float("inf"):
            return None
        return (m.bids[0][0] / Q8 - buy) / buy * 1e4
    if not m.asks or sell <= 0:
        return None
    return (m.asks[0][0] / Q8 - sell) / sell * 1e4


def screen(m: Market, direction: CexDexDirection) -> bool:
    """Whether the first lot could pay before gas: the CEX best net of the taker fee beats the
    pool's marginal price (floats, with a margin: a pass is then sized exactly)."""
    buy, sell = marginal_prices(m)
    fee = m.taker_fee_ppm / PPM
    if direction == CexDexDirection.BUY_DEX_SELL_CEX:
        return bool(m.bids) and m.bids[0][0] / Q8 * (1 - fee) > buy * (1 - SCREEN_MARGIN)
    return bool(m.asks) and sell > m.asks[0][0] / Q8 * (1 + fee) * (1 - SCREEN_MARGIN)

