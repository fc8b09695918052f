"""The server's symbols: Binance trading rules (filters) and, for live mode, their devnet pools.

``--symbols "ETHUSDT=WETH/USDC,BTCUSDT=WBTC/USDC,ETH-USD=WETH/USDC"``: a Binance symbol
(``ETHUSDT``) or a Coinbase product id (``ETH-USD``), optionally ``=BASE/QUOTE`` naming the
devnet tokens whose V2 pool it follows (USDT maps to USDC only by such a line). Filters are
integers x 1e8, as every amount of the server.
"""

from __future__ import annotations

from dataclasses import dataclass

from cex.errors import CexError
from cex.exchange.errors import SymbolsError
from cex.fixed import SCALE
from cex.symbols import split_binance, split_dashed


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """One symbol of the server.

    Attributes
    ----------
    symbol : str
        ``ETHUSDT`` (Binance) or ``ETH-USD`` (Coinbase).
    base, quote : str
        The venue's asset names.
    pool : tuple[str, str] | None
        Devnet token symbols (base, quote) of the pool the live price follows.
    tick_size, min_price, max_price : int
        PRICE_FILTER, x 1e8.
    step_size, min_qty, max_qty : int
        LOT_SIZE, x 1e8.
    min_notional : int
        MIN_NOTIONAL (quote units x 1e8), applied to market orders too.
    """

    symbol: str
    base: str
    quote: str
    pool: tuple[str, str] | None = None
    tick_size: int = SCALE // 100
    min_price: int = SCALE // 100
    max_price: int = 10_000_000 * SCALE
    step_size: int = SCALE // 10_000
    min_qty: int = SCALE // 10_000
    max_qty: int = 9_000 * SCALE
    min_notional: int = 5 * SCALE

    @property
    def coinbase(self) -> bool:
        """True for a Coinbase product id."""
        return "-" in self.symbol


def parse_symbol(text: str) -> SymbolSpec:
    """One ``SYMBOL[=BASE/QUOTE]`` entry.

    Raises
    ------
    SymbolsError
        An empty entry, a symbol whose assets cannot be told apart, or a bad pool.
    """
    name, eq, pool_text = text.strip().partition("=")
    name = name.strip()
    try:
        base, quote = split_dashed(name) if "-" in name else split_binance(name)
    except CexError as exc:
        raise SymbolsError(f"bad symbol {name!r}: {exc}") from None
    pool = None
    if eq:
        pool_base, slash, pool_quote = pool_text.strip().partition("/")
        if not (slash and pool_base.isalnum() and pool_quote.isalnum()):
            raise SymbolsError(f"bad pool {pool_text!r} for {name} (want BASE/QUOTE, e.g. WETH/USDC)")
        pool = (pool_base, pool_quote)
    return SymbolSpec(name, base, quote, pool)


def parse_symbols(text: str) -> list[SymbolSpec]:
    """Comma-separated entries; each symbol at most once."""
    specs = [parse_symbol(part) for part in text.split(",") if part.strip()]
    if not specs:
        raise SymbolsError("no symbols given")
    names = [s.symbol for s in specs]
    if len(set(names)) != len(names):
        raise SymbolsError(f"a symbol is listed twice in {text!r}")
    return specs


#: Symbols of replay and paper mode when none are configured.
DEFAULT_SYMBOLS = "ETHUSDT,BTCUSDT,ETHUSDC,BTCUSDC"
#: Symbols of live mode when none are configured (the devnet has WETH, USDC, DAI, WBTC).
DEFAULT_LIVE_SYMBOLS = "ETHUSDT=WETH/USDC,BTCUSDT=WBTC/USDC,ETH-USD=WETH/USDC,BTC-USD=WBTC/USDC"
