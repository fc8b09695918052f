"""A sized trade as the ``CexDexSignal`` the node publishes (docs/protocol-types.md, type 37).

Every figure is an exact integer, rounded against us: the DEX price up when we buy base on the
pool and down when we sell it there, the spread down (direction 0) or up (direction 1), the USD
value down. Values past their field's range are saturated (they never are at sane sizes).
"""

from __future__ import annotations

from dataclasses import dataclass

from mesh.protocol.constants import CexDexDirection
from mesh.protocol.messages import CexDexSignal
from nodes.cexdex.config import PairSpec, PoolSpec
from nodes.cexdex.sizing import Q8, Sized

I64 = (-(2**63), 2**63 - 1)
I32 = (-(2**31), 2**31 - 1)


def _clamp(x: int, bounds: tuple[int, int]) -> int:
    return max(bounds[0], min(bounds[1], x))


def _div(num: int, den: int, *, up: bool) -> int:
    return -(-num // den) if up else num // den


def dex_price(s: Sized, base_decimals: int, quote_decimals: int) -> int:
    """The DEX leg's average price, quote per base × 1e8 (up when buying base, down when
    selling it)."""
    buying = s.direction == CexDexDirection.BUY_DEX_SELL_CEX
    quote_amt, base_amt = (s.dex_amount_in, s.dex_amount_out) if buying else (s.dex_amount_out, s.dex_amount_in)
    if base_amt <= 0:
        return 0
    return _div(quote_amt * 10**base_decimals * Q8, base_amt * 10**quote_decimals, up=buying)


def spread_bps(s: Sized, dex: int) -> int:
    """(CEX side price − DEX price) / DEX price in bps, before fees, over the sized trade's
    average prices (down for direction 0, up for direction 1)."""
    if dex <= 0:
        return 0
    return _div((s.cex_price - dex) * 10_000, dex, up=s.direction == CexDexDirection.BUY_CEX_SELL_DEX)


@dataclass(frozen=True, slots=True)
class Context:
    """What a signal says besides the sized trade."""

    signal_id: int
    chain_id: int
    block: int
    valid_until_ns: int
    cex_timestamp_ns: int
    cex_best: int
    usd_q8: int
    taker_fee_ppm: int
    strategy_id: int


def signal(s: Sized, pair: PairSpec, pool: PoolSpec, ctx: Context) -> CexDexSignal:
    """The message of one sized trade."""
    dex = dex_price(s, pair.base.decimals, pair.quote.decimals)
    inst = pair.instrument
    return CexDexSignal(
        dex_amount_in=s.dex_amount_in, dex_amount_out=s.dex_amount_out, expected_profit=s.profit,
        gas_cost=s.gas_cost, signal_id=ctx.signal_id, chain_id=ctx.chain_id, detected_block=ctx.block,
        valid_until_ns=ctx.valid_until_ns, cex_timestamp_ns=ctx.cex_timestamp_ns, cex_asset_id=inst.asset_id,
        cex_quantity=_clamp(s.cex_quantity, I64), cex_price=_clamp(s.cex_price, I64),
        cex_best=_clamp(ctx.cex_best, I64), dex_price=_clamp(dex, I64), net_profit_usd_q8=_clamp(ctx.usd_q8, I64),
        pool_fee_ppm=pool.fee_ppm, cex_taker_fee_ppm=ctx.taker_fee_ppm, cex_venue=inst.venue,
        cex_asset_type=inst.asset_type, direction=int(s.direction), pool_kind=int(pool.kind), reserved=0,
        strategy_id=ctx.strategy_id, spread_bps=_clamp(spread_bps(s, dex), I32),
        pool=bytes.fromhex(pool.address[2:]), base_token=bytes.fromhex(pair.base.address[2:]),
        quote_token=bytes.fromhex(pair.quote.address[2:]))
