"""The values the strategy works with: the deployment it trades through and a sized opportunity."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

from contracts.arbitrage import Hop as TradeHop
from contracts.arbitrage import Trade
from nodes.strategy.lenders import Lender


@dataclass(slots=True, frozen=True)
class Deployment:
    """What the strategy trades through, read once at start (manifest and chain).

    ``v2_factories`` maps a pair's venue (VenueId, as the collector writes it) to its factory's
    index in FlashArbitrage; ``aave_caps`` the most Aave can lend of each token (lower case).
    """

    chain_id: int
    arbitrage: str
    recipient: str
    native: str
    usd_token: str
    usd_decimals: int
    aave_pool: str = ""
    aave_premium_bps: int = 0
    aave_caps: Mapping[str, int] = field(default_factory=dict)
    v2_factories: Mapping[int, int] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class Opportunity:
    """One sized route, exactly: what the node publishes (and the executor sends)."""

    cycle: int
    block: int
    hops: tuple[TradeHop, ...]
    amount_in: int
    amounts_out: tuple[int, ...]
    lender: Lender
    flash_fee: int
    gas: int
    gas_price: int
    gas_cost: int
    profit: int
    profit_usd_q8: int
    confidence_bps: int
    trade: Trade

    @property
    def gross(self) -> int:
        """``amounts_out[-1] - amount_in - flash_fee``: the profit before gas."""
        return self.amounts_out[-1] - self.amount_in - self.flash_fee


_ids = itertools.count(1)


def next_id(base: int) -> int:
    """A fresh opportunity id: the node's start time in ms shifted, plus a counter."""
    return (base << 20) + next(_ids)
