"""Gas of FlashArbitrage routes, one per route shape of :mod:`contracts.gas_table`, on a devnet.

``python -m bench gas [--port N] [--fit]`` starts its own anvil, deploys the devnet market, makes
WETH dearer on two Uniswap V2 pairs (as the tests' devnet does) and runs :func:`measure`: every route
shape the table covers (4 lender slots x every sequence of 2 to 4 V2/V3 hops, 98 shapes) on a
profitable devnet route (:mod:`bench._gas_routes`; two V3 pools are made WETH-dear too, so that
all-V3 cycles exist), each measured as the receipt's ``gasUsed`` (after refunds, with the 21000
intrinsic gas and calldata) from an ``evm_snapshot`` so every trade sees the same pools. Each row
shows the table's value and its drift from the measurement in % (table - measured) / measured.
Also measured in the same run: a plain Uniswap V2 swap (token transfer + ``pair.swap`` from an EOA)
and a V3 swap through the devnet periphery as baselines; the fused 2-hop V2 route with dust, with the
profit kept in the contract and with hop 1 priced from ``getReserves``; a route whose V3 hop crosses
one initialized tick. ``--fit`` adds rows of the table's constants fitted to this run (:func:`fit`):
what ``contracts/gas_table.py`` holds after a recalibration.
Target (issue 5): the 2-hop V2 route funded by a fused V2 flash swap at most 150 k gas.

:func:`measure` runs on any chain holding a devnet deployment (``contracts.deploy.deploy_market``)
with the V2 mispricing of :func:`mispricing`: the tests call it on their per-worker devnet. It works
inside a snapshot and leaves the chain as it found it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, replace
from math import isqrt
from typing import Any

import numpy as np

from bench._gas_routes import Planned, amount_of, plan
from bench.report import Row
from contracts.accounts import dev_account
from contracts.anvil import port_is_free, start_anvil, stop_anvil
from contracts.arbitrage import PoolBook, Trade, arbitrage_contract, execute
from contracts.client import Chain
from contracts.deploy import deploy_market
from contracts.devnet import find_pool
from contracts.gas_table import LENDER_NAMES, RouteShape, route_gas, shapes
from contracts.pools import erc20, read_v2, swap_v2, swap_v3, v2_pair, v3_pool
from contracts.simulator.state import read_market
from contracts.swapmath import V3Pool, enumerate_cycles
from contracts.v3math import sqrt_ratio_at_tick, v2_amount_out
from mesh.protocol.constants import FlashSource, PoolKind

TARGET_V2_FLASH_2HOP = 150_000
#: V3 pools made WETH-dear by this much (percent) before measuring, so all-V3 cycles profit too.
V3_PUSH_PCT = 4
V3_PUSHED = (("WETH/USDC", 3000), ("WETH/DAI", 3000))
V2, V3 = PoolKind.UNISWAP_V2, PoolKind.UNISWAP_V3
FUSED_V2V2 = RouteShape(FlashSource.UNISWAP_V2, True, (V2, V2))
CROSSING = RouteShape(FlashSource.AAVE_V3, False, (V3, V2))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--port``: anvil port (default: the first free one from 28545); ``--fit``: also rows of the
    table's constants fitted to this run (to recalibrate :mod:`contracts.gas_table`)."""
    parser.add_argument("--port", type=int, default=0, help="anvil port (default: first free from 28545)")
    parser.add_argument("--fit", action="store_true", help="also print the table constants fitted to this run")


@dataclass(slots=True, frozen=True)
class Measured:
    """One measured case: its ``gasUsed`` and, for a route shape, the table's value."""

    case: str
    gas: int
    shape: RouteShape | None = None
    crossings: int = 0

    @property
    def table(self) -> int | None:
        """:func:`contracts.gas_table.route_gas` of the case's shape (None for a baseline or variant)."""
        if self.shape is None:
            return None
        return route_gas(self.shape.source, self.shape.fused, self.shape.kinds, self.crossings)

    @property
    def drift_pct(self) -> float | None:
        """(table - measured) / measured, in percent."""
        table = self.table
        return None if table is None else 100.0 * (table - self.gas) / self.gas


def mispricing(chain: Chain, m: dict[str, Any]) -> None:
    """WETH about 4 % dearer on the V2 WETH/USDC pair and 3 % on V2 WETH/DAI (the tests' devnet too)."""
    usdc, dai = (m["tokens"][s]["address"] for s in ("USDC", "DAI"))
    swap_v2(chain, find_pool(m, "uniswap_v2", "WETH/USDC")["address"], usdc, 45_000 * 10**6)
    swap_v2(chain, find_pool(m, "uniswap_v2", "WETH/DAI")["address"], dai, 45_000 * 10**18)


def _push_v3(chain: Chain, m: dict[str, Any]) -> None:
    """Make WETH :data:`V3_PUSH_PCT` % dearer in the :data:`V3_PUSHED` pools (an exact price limit)."""
    weth = m["tokens"]["WETH"]["address"]
    for pair, fee in V3_PUSHED:
        pool = find_pool(m, "uniswap_v3", pair, fee)
        sqrt_p = v3_pool(chain, pool["address"]).functions.slot0().call()[0]
        weth_is_0 = pool["token0"].lower() == weth.lower()
        # price = token1 per token0: WETH dearer means a higher price when WETH is token0
        factor = (100 + V3_PUSH_PCT, 100) if weth_is_0 else (100, 100 + V3_PUSH_PCT)
        target = isqrt(sqrt_p * sqrt_p * factor[0] // factor[1])
        other = pool["token1"] if weth_is_0 else pool["token0"]
        swap_v3(chain, m["periphery"], pool["address"], other, amount_of(m, other, 50_000_000), target)


def _steady_state(chain: Chain, m: dict[str, Any], recipient: str) -> None:
    """Make storage look like mainnet's: every V2 pair has non-zero price accumulators (a swap after
    time passed), every V3 pool non-zero fee growth in both tokens (a swap each way: a swap or a
    flash writes the fee growth of the token paid in) and the recipient already holds each token. Otherwise one-off zero-to-non-zero
    SSTOREs (20 k gas each) would be billed to whichever trade touches the slot first."""
    chain.rpc("evm_increaseTime", [60])
    chain.rpc("evm_mine")
    for venue in ("uniswap_v2", "uniswap_v2_fork"):
        for pair in m[venue]["pairs"]:
            swap_v2(chain, pair["address"], pair["token0"], amount_of(m, pair["token0"], 10))
    for pool in m["uniswap_v3"]["pools"]:
        for token in (pool["token0"], pool["token1"]):
            swap_v3(chain, m["periphery"], pool["address"], token, amount_of(m, token, 10))
    for token in m["tokens"].values():
        chain.transact(erc20(chain, token["address"]), "transfer", recipient, 1)


def _gas_of(chain: Chain, fn: Callable[[], int]) -> int:
    """``fn()`` (which sends transactions and returns their gas) in a new block, then undone."""
    snap = chain.snapshot()
    try:
        chain.rpc("evm_increaseTime", [12])  # a new block, as on mainnet: pairs update accumulators
        return fn()
    finally:
        chain.revert_to(snap)


def _sender(chain: Chain, arb: Any, trade: Trade) -> Callable[[], int]:
    """A function that sends ``trade`` and returns its gasUsed."""
    return lambda: execute(chain, arb, trade)["gasUsed"]


def _baselines(chain: Chain, m: dict[str, Any], recipient: str) -> list[Measured]:
    weth = m["tokens"]["WETH"]["address"]

    def v2_baseline() -> int:
        pair = find_pool(m, "uniswap_v2_fork", "WETH/USDC")["address"]
        sent = chain.transact(erc20(chain, weth), "transfer", pair, 10**18)["gasUsed"]
        state = read_v2(chain, pair)
        zero_in = state.token0 == weth
        r_in, r_out = (state.reserve0, state.reserve1) if zero_in else (state.reserve1, state.reserve0)
        out = v2_amount_out(10**18, r_in, r_out)
        amounts = (0, out) if zero_in else (out, 0)
        return sent + chain.transact(v2_pair(chain, pair), "swap", *amounts, recipient, b"")["gasUsed"]

    def v3_baseline() -> int:
        pool = find_pool(m, "uniswap_v3", "WETH/USDC", 500)["address"]
        before = chain.w3.eth.block_number
        swap_v3(chain, m["periphery"], pool, weth, 10**18, recipient=recipient)
        tx = chain.w3.eth.get_block(before + 1, full_transactions=False)["transactions"][0]
        assert isinstance(tx, bytes)  # a hash, not the transaction (full_transactions=False)
        return chain.w3.eth.get_transaction_receipt(tx)["gasUsed"]

    return [Measured("baseline: V2 transfer + pair.swap from EOA (2 txs)", _gas_of(chain, v2_baseline)),
            Measured("baseline: V3 pool.swap via periphery (1 tx)", _gas_of(chain, v3_baseline))]


def _variants(chain: Chain, m: dict[str, Any], arb: Any, fused: Trade) -> list[Measured]:
    """The fused 2-hop V2 route with dust in the contract, with its profit kept there, and with hop 1
    priced by the contract from ``getReserves``."""

    def with_dust(trade: Trade) -> Callable[[], int]:
        def fn() -> int:
            for token in m["tokens"].values():  # 1 raw unit of every token left in the contract
                chain.transact(erc20(chain, token["address"]), "transfer", arb.address, 1)
            return execute(chain, arb, trade)["gasUsed"]
        return fn

    unpriced = replace(fused, hops=(replace(fused.hops[0], amount_out=0), *fused.hops[1:]))
    name = FUSED_V2V2.name
    return [Measured(f"{name} +dust", _gas_of(chain, with_dust(fused))),
            Measured(f"{name} +dust, profit kept in contract", _gas_of(chain, with_dust(replace(fused, recipient=arb.address)))),
            Measured(f"{name}, hop 1 priced from getReserves",
                     _gas_of(chain, _sender(chain, arb, unpriced)))]


def _crossing(chain: Chain, m: dict[str, Any], arb: Any, book: PoolBook, recipient: str) -> Measured:
    """:data:`CROSSING`'s route after its V3 pool's price was moved just short of the next initialized
    tick the route's V3 hop swaps towards: the hop crosses that one tick."""
    market = read_market(chain, m)
    planned = plan(CROSSING, market, m, book, recipient)
    hop = next(h for h in planned.trade.hops if h.kind == V3)
    pool = market.pools[next(a for a in market.pools if a.lower() == hop.pool.lower())]
    assert isinstance(pool, V3Pool)
    down = hop.zero_for_one  # selling token0 lowers the price
    tick = max(t for t in pool.ticks if t <= pool.tick) if down else min(t for t in pool.ticks if t > pool.tick)
    edge = sqrt_ratio_at_tick(tick)
    short, past = edge // 20_000, -(edge // 20_000)  # half a basis point of price either side
    if not down:
        short, past = past, short
    other = hop.token_out
    snap = chain.snapshot()
    try:
        # across the tick and back: its fee-growth-outside slots hold non-zero values, as on a pool
        # whose ticks have been crossed before (the first crossing ever writes zero slots: 20 k each)
        swap_v3(chain, m["periphery"], hop.pool, hop.token_in, amount_of(m, hop.token_in, 50_000_000), edge + past)
        swap_v3(chain, m["periphery"], hop.pool, other, amount_of(m, other, 50_000_000), edge + short)
        crossing = plan(CROSSING, read_market(chain, m), m, book, recipient, crossings=1)
        gas = _gas_of(chain, _sender(chain, arb, crossing.trade))
    finally:
        chain.revert_to(snap)
    return Measured(f"{CROSSING.name}, V3 hop crosses 1 tick", gas, CROSSING, 1)


def measure(chain: Chain, m: dict[str, Any], recipient: str | None = None) -> list[Measured]:
    """Baselines, every table shape, the variants and the tick crossing, measured on ``chain``.

    ``m`` is the deployment's manifest; the chain's account must own its FlashArbitrage and hold the
    test tokens (the deployer). The chain is restored to the state it was given in.
    """
    recipient = recipient or dev_account(2).address
    arb = arbitrage_contract(chain, m["flash_arbitrage"])
    book = PoolBook(chain, arb)
    snap = chain.snapshot()
    try:
        _push_v3(chain, m)
        _steady_state(chain, m, recipient)
        out = _baselines(chain, m, recipient)
        market = read_market(chain, m)
        cycles = enumerate_cycles(market.pools.values(), max_hops=4)
        planned: dict[RouteShape, Planned] = {s: plan(s, market, m, book, recipient, cycles=cycles) for s in shapes()}
        for shape, route in planned.items():
            gas = _gas_of(chain, _sender(chain, arb, route.trade))
            out.append(Measured(shape.name, gas, shape))
        out += _variants(chain, m, arb, planned[FUSED_V2V2].trade)
        out.append(_crossing(chain, m, arb, book, recipient))
        return out
    finally:
        chain.revert_to(snap)


def fit(measured: list[Measured]) -> dict[str, int]:
    """Constants of :mod:`contracts.gas_table` fitted to the shapes measured without tick crossings
    (least squares on the relative error), and the crossing's extra gas; rounded to 10 gas.

    The model: ``BASE_GAS[lender] + FIRST_HOP_GAS[kind of hop 0] + sum(HOP_GAS[kind] of later hops)``,
    with a first V2 hop costing as much as a later one (each route has one first hop, so only the
    first V3 hop's difference can be told from the base).
    """
    cases = [c for c in measured if c.shape is not None and c.crossings == 0]
    x = np.zeros((len(cases), 7))
    y = np.array([c.gas for c in cases], dtype=np.float64)
    for i, case in enumerate(cases):
        assert case.shape is not None
        kinds = case.shape.kinds
        x[i, case.shape.lender] = 1.0
        x[i, 4] = kinds.count(V2)
        x[i, 5] = kinds[1:].count(V3)
        x[i, 6] = kinds[0] == V3
    coef = np.linalg.lstsq(x / y[:, None], np.ones(len(y)), rcond=None)[0]
    c = [int(round(v, -1)) for v in coef]
    out = {f"BASE_GAS[{name}]": c[i] for i, name in enumerate(LENDER_NAMES)}
    out |= {"HOP_GAS[V2]": c[4], "HOP_GAS[V3]": c[5], "FIRST_HOP_GAS[V3]": c[6]}
    by_name = {m.case: m.gas for m in measured}
    for case in measured:
        if case.crossings == 1 and case.shape is not None:
            out["TICK_CROSS_GAS"] = round(case.gas - by_name[case.shape.name], -1)
    return out


def to_rows(measured: list[Measured]) -> list[Row]:
    """The bench's rows: gas, table value and drift; the fused 2-hop V2 route against its target."""
    rows = []
    for case in measured:
        extra: dict[str, Any] = {"gas": case.gas, "table": case.table}
        drift = case.drift_pct
        extra["drift_%"] = None if drift is None else f"{drift:+.2f}"
        if case.shape == FUSED_V2V2 and case.crossings == 0:
            extra["target"] = TARGET_V2_FLASH_2HOP
            extra["ok"] = "yes" if case.gas <= TARGET_V2_FLASH_2HOP else "NO"
        rows.append(Row("gas", case.case, extra=extra))
    return rows


def run(args: argparse.Namespace) -> list[Row]:
    """Start anvil, deploy, measure every case; return the rows."""
    port = args.port or next(p for p in range(28545, 28645) if port_is_free(p))
    proc = start_anvil(port)
    try:
        chain = Chain(f"http://127.0.0.1:{port}")
        m = deploy_market(chain)
        mispricing(chain, m)
        measured = measure(chain, m)
        rows = to_rows(measured)
        if args.fit:
            rows += [Row("gas", f"fit: {name}", extra={"gas": value}) for name, value in fit(measured).items()]
        return rows
    finally:
        stop_anvil(proc)
