"""Live pool prices from the market-data rings, for display.

A pool's price is token1 per token0, adjusted for decimals: V2 reserves
(``reserve1 / reserve0 * 10**(d0 - d1)``) or a V3 ``sqrtPriceX96``
(``(sqrtP / 2**96)**2 * 10**(d0 - d1)``), computed exactly with fractions and printed with
ten significant digits. Display only: nothing decides on these numbers. The chain id comes from
the ring's ``BlockEnd`` frames (one chain per collector ring).
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

from mesh.protocol import BlockEnd, PoolState, PoolSwap, PoolSync
from mesh.protocol.constants import VenueId
from nodes.dashboard.messages import hex_address

#: Pools kept (the most recently updated win); a bound on memory and on the message's size.
MAX_POOLS = 200


def price_text(value: Fraction) -> str:
    """A positive fraction as a decimal string of 10 significant digits (no exponent)."""
    if value <= 0:
        return "0"
    with localcontext() as ctx:
        ctx.prec = 10
        d = (Decimal(value.numerator) / Decimal(value.denominator)).normalize()
    return format(d, "f")


def _scale(d0: int, d1: int) -> Fraction:
    return Fraction(10) ** (d0 - d1)


def v2_price(reserve0: int, reserve1: int, d0: int, d1: int) -> Fraction | None:
    """token1 per token0 from V2 reserves (None when a reserve is zero)."""
    if reserve0 <= 0 or reserve1 <= 0:
        return None
    return Fraction(reserve1, reserve0) * _scale(d0, d1)


def v3_price(sqrt_price_x96: int, d0: int, d1: int) -> Fraction | None:
    """token1 per token0 from a V3 sqrtPriceX96 (None when zero)."""
    if sqrt_price_x96 <= 0:
        return None
    return Fraction(sqrt_price_x96 * sqrt_price_x96, 1 << 192) * _scale(d0, d1)


def _venue(v: int) -> str:
    try:
        return VenueId(v).name.lower()
    except ValueError:
        return str(v)


class PriceBook:
    """The latest price of each pool seen in the rings; ``symbols`` names token addresses."""

    def __init__(self, symbols: dict[str, str] | None = None) -> None:
        self.symbols = symbols or {}
        self.pools: dict[tuple[str, str], dict[str, Any]] = {}  # (ring writer, pool)
        self.chain_of: dict[str, int] = {}
        self.changed = False

    def _pair(self, t0: bytes, t1: bytes) -> str:
        a, b = hex_address(t0), hex_address(t1)
        return f"{self.symbols.get(a, a[:8])}/{self.symbols.get(b, b[:8])}"

    def _set(self, writer: str, pool: bytes, venue: int, pair: str | None,
             price: Fraction | None, block: int) -> None:
        if price is None:
            return
        address = hex_address(pool)
        key = (writer, address)  # two chains may have pools at the same address
        row = self.pools.pop(key, None) or {"pool": address, "venue": _venue(venue),
                                            "pair": pair}
        if pair is not None:
            row["pair"] = pair
        row.update(chain_id=str(self.chain_of.get(writer, 0)) if writer in self.chain_of
                   else None, price=price_text(price), block=str(block), ring=writer)
        self.pools[key] = row  # re-inserted: the dict's order is the order of last update
        while len(self.pools) > MAX_POOLS:
            self.pools.pop(next(iter(self.pools)))
        self.changed = True

    def apply(self, writer: str, tlv: object) -> None:
        """Fold one decoded ring TLV of ring writer ``writer`` in (others are ignored)."""
        if isinstance(tlv, PoolSync):
            self._set(writer, tlv.pool_address, tlv.venue,
                      self._pair(tlv.token0_addr, tlv.token1_addr),
                      v2_price(tlv.reserve0, tlv.reserve1, tlv.token0_decimals,
                               tlv.token1_decimals), tlv.block_number)
        elif isinstance(tlv, PoolState):
            d0, d1 = tlv.token0_decimals, tlv.token1_decimals
            price = v3_price(tlv.sqrt_price_x96, d0, d1) if tlv.sqrt_price_x96 else \
                v2_price(tlv.reserve0, tlv.reserve1, d0, d1)
            self._set(writer, tlv.pool_address, tlv.venue,
                      self._pair(tlv.token0_addr, tlv.token1_addr), price, tlv.block_number)
        elif isinstance(tlv, PoolSwap) and tlv.sqrt_price_x96_after:
            # token0 is the lower address (Uniswap orders them so)
            if bytes(tlv.token_in_addr) < bytes(tlv.token_out_addr):
                d0, d1 = tlv.amount_in_decimals, tlv.amount_out_decimals
            else:
                d0, d1 = tlv.amount_out_decimals, tlv.amount_in_decimals
            self._set(writer, tlv.pool_address, tlv.venue, None,
                      v3_price(tlv.sqrt_price_x96_after, d0, d1), tlv.block_number)
        elif isinstance(tlv, BlockEnd) and self.chain_of.get(writer) != tlv.chain_id:
            self.chain_of[writer] = tlv.chain_id
            for (ring, _), row in self.pools.items():  # rows seen before the ring's first
                if ring == writer:                     # BlockEnd learn their chain now
                    row["chain_id"] = str(tlv.chain_id)
                    self.changed = True

    def take(self) -> list[dict[str, Any]] | None:
        """Every pool's row if anything changed since the last call, else None."""
        if not self.changed:
            return None
        self.changed = False
        return [dict(r) for r in self.pools.values()]
