"""Paper accounts: free and locked balances per asset, integers x 1e8."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cex.exchange.paper import reject
from cex.fixed import SCALE, format_q8

#: Balances every paper account starts with when none are configured (asset -> units).
DEFAULT_BALANCES: Mapping[str, int] = {
    "USDT": 1_000_000 * SCALE, "USDC": 1_000_000 * SCALE, "USD": 1_000_000 * SCALE,
    "ETH": 1_000 * SCALE, "BTC": 100 * SCALE}


class Account:
    """One API key's balances.

    Parameters
    ----------
    balances : Mapping[str, int]
        Starting free balance per asset, x 1e8.
    """

    def __init__(self, balances: Mapping[str, int]) -> None:
        self.free: dict[str, int] = dict(balances)
        self.locked: dict[str, int] = dict.fromkeys(balances, 0)
        self.touched: set[str] = set()
        self.update_ms = 0

    def _add(self, book: dict[str, int], asset: str, amount: int) -> None:
        value = book.get(asset, 0) + amount
        if value < 0:
            raise AssertionError(f"{asset} would go negative")  # a bug of the engine
        book[asset] = value
        self.free.setdefault(asset, 0)
        self.locked.setdefault(asset, 0)
        self.touched.add(asset)

    def require(self, asset: str, amount: int) -> None:
        """Raise -2010 when less than ``amount`` of ``asset`` is free."""
        if self.free.get(asset, 0) < amount:
            raise reject.insufficient_balance()

    def credit(self, asset: str, amount: int) -> None:
        """Add to the free balance."""
        self._add(self.free, asset, amount)

    def debit(self, asset: str, amount: int) -> None:
        """Take from the free balance."""
        self._add(self.free, asset, -amount)

    def lock(self, asset: str, amount: int) -> None:
        """Move ``amount`` from free to locked."""
        self._add(self.free, asset, -amount)
        self._add(self.locked, asset, amount)

    def unlock(self, asset: str, amount: int) -> None:
        """Move ``amount`` from locked back to free."""
        self._add(self.locked, asset, -amount)
        self._add(self.free, asset, amount)

    def spend_locked(self, asset: str, amount: int) -> None:
        """Pay ``amount`` out of the locked balance."""
        self._add(self.locked, asset, -amount)

    def balances(self, assets: Iterable[str] | None = None) -> list[dict[str, str]]:
        """``[{"asset", "free", "locked"}]`` as Binance writes them (8 decimals)."""
        names = sorted(self.free) if assets is None else sorted(assets)
        return [{"asset": a, "free": format_q8(self.free.get(a, 0), trim=False),
                 "locked": format_q8(self.locked.get(a, 0), trim=False)} for a in names]

    def take_touched(self) -> list[str]:
        """Assets changed since the last call (for ``outboundAccountPosition``)."""
        touched, self.touched = sorted(self.touched), set()
        return touched
