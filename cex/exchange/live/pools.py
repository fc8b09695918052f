"""The devnet pools a live symbol follows, and their exact prices (V2 reserves)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cex.exchange.errors import SymbolsError
from cex.exchange.symbols import SymbolSpec
from cex.fixed import SCALE

#: ``getReserves()`` selector of a UniswapV2Pair.
GET_RESERVES = "0x0902f1ac"


@dataclass(frozen=True, slots=True)
class PoolRef:
    """A V2 pair and how to read the base token's price in the quote token from it."""

    address: str
    base_is_token0: bool
    base_decimals: int
    quote_decimals: int

    def price(self, reserve0: int, reserve1: int) -> int:
        """Base priced in quote, x 1e8, truncated (exact integer arithmetic)."""
        rb, rq = (reserve0, reserve1) if self.base_is_token0 else (reserve1, reserve0)
        if rb == 0:
            return 0
        return rq * 10**self.base_decimals * SCALE // (rb * 10**self.quote_decimals)


def resolve(manifest: dict[str, Any], spec: SymbolSpec) -> PoolRef:
    """The ``uniswap_v2`` pair of ``spec.pool`` in ``manifest``.

    Raises
    ------
    SymbolsError
        No pool configured, a token the devnet lacks, or no such pair.
    """
    if spec.pool is None:
        raise SymbolsError(f"{spec.symbol} has no devnet pool (write {spec.symbol}=BASE/QUOTE)")
    base, quote = spec.pool
    tokens = manifest.get("tokens", {})
    for token in (base, quote):
        if token not in tokens:
            raise SymbolsError(f"{spec.symbol}: the devnet has no token {token} "
                               f"(it has {', '.join(sorted(tokens))})")
    for pair in manifest.get("uniswap_v2", {}).get("pairs", []):
        if pair["pair"] in (f"{base}/{quote}", f"{quote}/{base}"):
            base_addr = tokens[base]["address"].lower()
            return PoolRef(pair["address"], pair["token0"].lower() == base_addr,
                           int(tokens[base]["decimals"]), int(tokens[quote]["decimals"]))
    raise SymbolsError(f"{spec.symbol}: no uniswap_v2 pair {base}/{quote} on the devnet")


def decode_reserves(result: str) -> tuple[int, int]:
    """``getReserves()`` return data -> (reserve0, reserve1)."""
    data = bytes.fromhex(result[2:] if result.startswith("0x") else result)
    if len(data) < 64:
        raise ValueError("getReserves answer too short")
    return int.from_bytes(data[0:32], "big"), int.from_bytes(data[32:64], "big")
