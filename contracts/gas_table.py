"""Gas a FlashArbitrage route uses, by route shape: the one table, for the strategy to net out of profit.

A route's *shape* is its lender slot (Aave V3 ``flashLoanSimple``; a Uniswap V2 flash swap fused with
the route's last pair; a V2 flash from a pair off the route; a Uniswap V3 ``flash``) and its hop kinds
in order (2 to 4 V2 pairs or V3 pools). :func:`route_gas` gives the gas of a shape as a receipt's
``gasUsed`` shows it (21000 intrinsic gas, calldata, execution, after refunds)::

    BASE_GAS[lender] + FIRST_HOP_GAS[kind of hop 0] + sum(HOP_GAS[kind] for the later hops)
                     + ticks_crossed * TICK_CROSS_GAS

Multiply by the live gas price (GasPrice frames) for the cost. :func:`route_gas_nb` is the same lookup
for ``@njit`` code, over :data:`BASE_GAS_NP`, :data:`FIRST_HOP_GAS_NP` and :data:`HOP_GAS_NP`, numpy
arrays built from the same constants. A shape outside the table raises :class:`UnknownRouteShape` (a
:class:`~alphapulse.errors.ChainError`: such a trade is one FlashArbitrage refuses); the compiled form
answers :data:`UNKNOWN` (-1) instead.

What the table assumes
----------------------
- Every V3 hop stays between the pool's initialized ticks: no tick crossed. Each crossed tick adds
  :data:`TICK_CROSS_GAS` (measured: 30 595 on a tick crossed before; the first crossing ever of a tick
  writes zero slots and costs more). A V3 swap that steps over a tick-bitmap word boundary without
  crossing pays one more loop step (not measured, a few k).
- Every V2 hop carries its precomputed output; one priced by the contract from ``getReserves`` adds
  about 1.4 k (measured: 150 905 instead of 149 489).
- Storage in steady state, as on mainnet: V2 price accumulators and V3 fee growth already non-zero, a
  new block, the recipient already holds the profit token, FlashArbitrage holds none of the route's
  tokens (its balances go 0 -> x -> 0 within the trade; dust in the contract measured no difference).
- The profit is paid to the recipient (kept in the contract: 5.3 k less, 144 172).
- Tokens cost what the devnet's plain ERC-20 costs per transfer; a token behind a proxy or with
  extra checks (USDC, USDT) costs more per transfer, a few k per hop.
- No EIP-2930 access list (one would save about 200 gas per cold address or slot).
The residual (at most 2.2 %, below) follows which tokens and pools the route and its lender share: a
token or pool touched a second time is warm.

Calibration
-----------
``python -m bench gas --fit`` (2026-12-01, anvil 1.7.1 ``--hardfork cancun``, FlashArbitrage as of
88cc5c3, one run on an Intel Xeon @ 2.80GHz, 2 cores; gas is deterministic, the machine does not
matter): one profitable devnet route per shape (:mod:`bench.gas`), the constants fitted by least
squares on the relative error and rounded to 10 gas. ``tests/contracts/test_gas_table.py`` measures
every shape again and fails when the table drifts more than 5 % from it. Per shape, measured gasUsed,
the table's value and the drift in % (table - measured) / measured; the worst is -2.2 %::

    hops                             aave               v2 fused                v2 pair               v3 flash
    V2>V2            267012 269190 +0.8   149489 150700 +0.8   200767 201080 +0.2   188081 189880 +1.0
    V2>V3            293980 290780 -1.1                      -   227304 222670 -2.0   216219 211470 -2.2
    V3>V2            276659 278350 +0.6   159133 159860 +0.5   210414 210240 -0.1   196548 199040 +1.3
    V3>V3            299689 299940 +0.1                      -   231056 231830 +0.3   223908 220630 -1.5
    V2>V2>V2         318936 318800 -0.0   201065 200310 -0.4   252343 250690 -0.7   238474 239490 +0.4
    V2>V2>V3         337475 340390 +0.9                      -   268530 272280 +1.4   259432 261080 +0.6
    V2>V3>V2         337504 340390 +0.9   218808 221900 +1.4   270549 272280 +0.6   259461 261080 +0.6
    V2>V3>V3         366350 361980 -1.2                      -   299396 293870 -1.8   288308 282670 -2.0
    V3>V2>V2         329276 327960 -0.4   211405 209470 -0.9   262683 259850 -1.1   248814 248650 -0.1
    V3>V2>V3         348224 349550 +0.4                      -   279143 281440 +0.8   267163 270240 +1.2
    V3>V3>V2         348227 349550 +0.4   230353 231060 +0.3   281634 281440 -0.1   267765 270240 +0.9
    V3>V3>V3         372273 371140 -0.3                      -   303361 303030 -0.1   294180 291830 -0.8
    V2>V2>V2>V2      370682 368410 -0.6   252640 249920 -1.1   301505 300300 -0.4   290002 289100 -0.3
    V2>V2>V2>V3      389783 390000 +0.1                      -   320572 321890 +0.4   309139 310690 +0.5
    V2>V2>V3>V2      389735 390000 +0.1   271677 271510 -0.1   320524 321890 +0.4   309103 310690 +0.5
    V2>V2>V3>V3      410252 411590 +0.3                      -   341203 343480 +0.7   332066 332280 +0.1
    V2>V3>V2>V2      389735 390000 +0.1   271677 271510 -0.1   319397 321890 +0.8   309112 310690 +0.5
    V2>V3>V2>V3      410072 411590 +0.4                      -   341024 343480 +0.7   331877 332280 +0.1
    V2>V3>V3>V2      410252 411590 +0.3   289656 293100 +1.2   341978 343480 +0.4   332073 332280 +0.1
    V2>V3>V3>V3      438020 433180 -1.1                      -   368939 365070 -1.0   359842 353870 -1.7
    V3>V2>V2>V2      382404 377570 -1.3   264362 259080 -2.0   313152 309460 -1.2   301781 298260 -1.2
    V3>V2>V2>V3      400401 399160 -0.3                      -   331190 331050 -0.0   320729 319850 -0.3
    V3>V2>V3>V2      400063 399160 -0.2   282005 280670 -0.5   330852 331050 +0.1   319431 319850 +0.1
    V3>V2>V3>V3      418057 420750 +0.6                      -   348846 352640 +1.1   338100 341440 +1.0
    V3>V3>V2>V2      400383 399160 -0.3   282341 280670 -0.6   331131 331050 -0.0   319760 319850 +0.0
    V3>V3>V2>V3      418111 420750 +0.6                      -   348900 352640 +1.1   339129 341440 +0.7
    V3>V3>V3>V2      418096 420750 +0.6   300051 302260 +0.7   348844 352640 +1.1   338139 341440 +1.0
    V3>V3>V3>V3      445093 442340 -0.6                      -   376044 374230 -0.5   366864 363030 -1.0

    aave V3>V2 with its V3 hop crossing one tick: 307 254 measured, 308 950 table (+0.6 %)
"""

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

#: Gas of everything but the hops, per lender slot (index ``LENDER_*``): the 21000 intrinsic gas, the
#: head's calldata, ``execute``'s checks, the loan and its repayment, the profit paid out, the event.
BASE_GAS: tuple[int, int, int, int] = (169_970, 51_480, 101_860, 90_660)
#: Gas of a hop after the first, by kind (index ``PoolKind``; NONE is not a hop).
HOP_GAS: tuple[int, int, int] = (0, 49_610, 71_200)
#: Gas of the first hop, by kind. A first V2 hop counts as a later one (every route has one first hop,
#: so only a first V3 hop's difference can be told from the base); a first V3 hop is cheaper: no
#: balance reads before and after, which ``execute`` makes for the input of every later V3 hop.
FIRST_HOP_GAS: tuple[int, int, int] = (0, 49_610, 58_770)
#: Gas one initialized V3 tick crossed adds (the table's shapes assume none is).
TICK_CROSS_GAS = 30_600

#: The same numbers for compiled code (built from the constants above, never edited by hand).
BASE_GAS_NP = np.array(BASE_GAS, dtype=np.int64)
HOP_GAS_NP = np.array(HOP_GAS, dtype=np.int64)
FIRST_HOP_GAS_NP = np.array(FIRST_HOP_GAS, dtype=np.int64)


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
    hops = FIRST_HOP_GAS[int(kinds[0])] + sum(HOP_GAS[int(k)] for k in kinds[1:])
    return BASE_GAS[slot] + hops + ticks_crossed * TICK_CROSS_GAS


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
        gas += FIRST_HOP_GAS_NP[kind] if i == 0 else HOP_GAS_NP[kind]
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
