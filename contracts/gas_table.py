"""Gas a FlashArbitrage route uses, by route shape: the one table (placeholder constants, to be fitted)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import product

import numpy as np
from numba import njit

from alphapulse.errors import ChainError
from mesh.protocol.constants import FlashSource, PoolKind


class UnknownRouteShape(ChainError):
    """A route shape the table does not cover (and FlashArbitrage would refuse): a flash source or
    hop kind other than the contract's, fewer than 2 or more than 4 hops, or a fused V2 flash whose
    lender is not a V2 last hop."""

    kind = "route_shape"


MIN_HOPS, MAX_HOPS = 2, 4
#: Lender slots of the table: a flash source, with the V2 flash split into fused and other pair.
LENDER_AAVE, LENDER_V2_FUSED, LENDER_V2_PAIR, LENDER_V3 = 0, 1, 2, 3
LENDER_NAMES = ("aave", "v2 fused", "v2 pair", "v3 flash")
#: What :func:`route_gas_nb` answers for a shape the table does not cover.
UNKNOWN = -1

#: Gas of everything but the hops, per lender slot (index ``LENDER_*``).
BASE_GAS: tuple[int, int, int, int] = (0, 0, 0, 0)
#: Gas of one hop by kind, index ``PoolKind`` (NONE is not a hop).
HOP_GAS: tuple[int, int, int] = (0, 0, 0)
#: Gas one initialized V3 tick crossed adds (the table's shapes assume none).
TICK_CROSS_GAS = 0

#: The same numbers for compiled code (built from the constants above, never edited by hand).
BASE_GAS_NP = np.array(BASE_GAS, dtype=np.int64)
HOP_GAS_NP = np.array(HOP_GAS, dtype=np.int64)


@dataclass(slots=True, frozen=True)
class RouteShape:
    """What the gas of a route depends on in this table: its lender and its hop kinds in order."""

    source: FlashSource
    fused: bool
    kinds: tuple[PoolKind, ...]

    @property
    def lender(self) -> int:
        """The table's lender slot (``LENDER_*``)."""
        return lender_slot(self.source, self.fused)

    @property
    def name(self) -> str:
        """``"aave V3>V2"``: lender slot and hop kinds."""
        return f"{LENDER_NAMES[self.lender]} " + ">".join("V2" if k == PoolKind.UNISWAP_V2 else "V3"
                                                          for k in self.kinds)


def lender_slot(source: FlashSource | int, fused: bool) -> int:
    """The table's lender slot of a flash source.

    Raises
    ------
    UnknownRouteShape
        An unknown source, or ``fused`` with a source other than UNISWAP_V2.
    """
    if source == FlashSource.UNISWAP_V2:
        return LENDER_V2_FUSED if fused else LENDER_V2_PAIR
    if fused:
        raise UnknownRouteShape(f"only a Uniswap V2 flash can be fused, not source {source!r}")
    if source == FlashSource.AAVE_V3:
        return LENDER_AAVE
    if source == FlashSource.UNISWAP_V3:
        return LENDER_V3
    raise UnknownRouteShape(f"unknown flash source {source!r}")


def _check_kinds(kinds: Sequence[PoolKind | int], fused: bool) -> None:
    if not MIN_HOPS <= len(kinds) <= MAX_HOPS:
        raise UnknownRouteShape(f"a route has {MIN_HOPS} to {MAX_HOPS} hops, got {len(kinds)}")
    for kind in kinds:
        if kind not in (PoolKind.UNISWAP_V2, PoolKind.UNISWAP_V3):
            raise UnknownRouteShape(f"unknown hop kind {kind!r}")
    if fused and kinds[-1] != PoolKind.UNISWAP_V2:
        raise UnknownRouteShape("a fused V2 flash lends from the last hop, which must be a V2 pair")


def route_gas(source: FlashSource | int, fused: bool, kinds: Sequence[PoolKind | int], ticks_crossed: int = 0) -> int:
    """Gas a route of this shape uses: receipt ``gasUsed`` (21000 intrinsic gas and calldata included).

    ``ticks_crossed`` counts the initialized V3 ticks the route's V3 hops cross (0 in the table's
    calibration).

    Raises
    ------
    UnknownRouteShape
        A shape outside the table (see the class).
    """
    slot = lender_slot(source, fused)
    _check_kinds(kinds, fused)
    if ticks_crossed < 0:
        raise UnknownRouteShape(f"ticks_crossed {ticks_crossed} is negative")
    return BASE_GAS[slot] + sum(HOP_GAS[int(k)] for k in kinds) + ticks_crossed * TICK_CROSS_GAS


@njit(cache=True)
def route_gas_nb(source: int, fused: bool, kinds: np.ndarray, ticks_crossed: int = 0) -> int:
    """:func:`route_gas` for compiled code: ``kinds`` an integer array of ``PoolKind`` values;
    :data:`UNKNOWN` (-1) for a shape outside the table instead of an exception."""
    n = kinds.shape[0]
    if n < MIN_HOPS or n > MAX_HOPS or ticks_crossed < 0:
        return UNKNOWN
    if source == 2:  # FlashSource.UNISWAP_V2
        slot = LENDER_V2_FUSED if fused else LENDER_V2_PAIR
    elif fused:
        return UNKNOWN
    elif source == 1:  # FlashSource.AAVE_V3
        slot = LENDER_AAVE
    elif source == 3:  # FlashSource.UNISWAP_V3
        slot = LENDER_V3
    else:
        return UNKNOWN
    gas = BASE_GAS_NP[slot] + ticks_crossed * TICK_CROSS_GAS
    for i in range(n):
        kind = kinds[i]
        if kind != 1 and kind != 2:
            return UNKNOWN
        gas += HOP_GAS_NP[kind]
    if fused and kinds[n - 1] != 1:
        return UNKNOWN
    return gas


def shapes() -> Iterator[RouteShape]:
    """Every shape the table covers: each lender slot with every sequence of 2 to 4 V2/V3 hops
    (a fused V2 flash only with a V2 last hop)."""
    sources = ((FlashSource.AAVE_V3, False), (FlashSource.UNISWAP_V2, True),
               (FlashSource.UNISWAP_V2, False), (FlashSource.UNISWAP_V3, False))
    for source, fused in sources:
        for n in range(MIN_HOPS, MAX_HOPS + 1):
            for kinds in product((PoolKind.UNISWAP_V2, PoolKind.UNISWAP_V3), repeat=n):
                if not fused or kinds[-1] == PoolKind.UNISWAP_V2:
                    yield RouteShape(source, fused, kinds)
