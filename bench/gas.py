"""Gas per FlashArbitrage route kind and flash source, on a fresh devnet (real anvil, real bytecode).

``python -m bench gas [--port N]`` starts its own anvil, deploys the devnet market, makes WETH
dearer on the Uniswap V2 pairs, then measures each trade's ``gasUsed`` (receipt, after refunds,
including the 21000 intrinsic gas and calldata) from an ``evm_snapshot`` so every trade sees the same
pools. Baselines measured in the same run: a plain Uniswap V2 swap (token transfer + ``pair.swap``
from an EOA, the cheapest way to swap on V2) and a V3 swap through the devnet periphery.
Target (issue 5): a 2-hop V2 route funded by a V2 flash swap at most 150 k gas.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from bench.report import Row
from contracts.accounts import dev_account
from contracts.anvil import port_is_free, start_anvil, stop_anvil
from contracts.arbitrage import PoolBook, Trade, arbitrage_contract, execute, quote, with_v2_amounts
from contracts.client import Chain
from contracts.deploy import deploy_market
from contracts.devnet import find_pool
from contracts.pools import erc20, read_v2, swap_v2, swap_v3, v2_pair
from contracts.v3math import v2_amount_out
from mesh.protocol.constants import FlashSource, PoolKind

TARGET_V2_FLASH_2HOP = 150_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--port``: anvil port (default: the first free one from 28545)."""
    parser.add_argument("--port", type=int, default=0, help="anvil port (default: first free from 28545)")


def _routes(chain: Chain, arb, m: dict, recipient: str) -> list[tuple[str, Trade]]:
    t = {s: m["tokens"][s]["address"] for s in m["tokens"]}
    book = PoolBook(chain, arb)

    def pool(venue: str, pair: str, fee: int | None = None) -> str:
        return find_pool(m, venue, pair, fee)["address"]

    v2 = lambda venue, pair: (pool(venue, pair), PoolKind.UNISWAP_V2)  # noqa: E731
    v3 = lambda pair, fee: (pool("uniswap_v3", pair, fee), PoolKind.UNISWAP_V3)  # noqa: E731
    usdc, weth = 10_000 * 10**6, 3 * 10**18
    uni, fork = "uniswap_v2", "uniswap_v2_fork"
    weth_2v2 = (v2(uni, "WETH/USDC"), v2(fork, "WETH/USDC"))
    weth_3 = (v2(uni, "WETH/DAI"), v3("USDC/DAI", 100), v2(fork, "WETH/USDC"))
    usdc_v3v2 = (v3("WETH/USDC", 500), v2(uni, "WETH/USDC"))
    usdc_3 = (v3("WETH/USDC", 3000), v2(uni, "WETH/DAI"), v3("USDC/DAI", 100))
    aave = (m["aave_v3"]["pool"], FlashSource.AAVE_V3)
    v2_lender = (pool(uni, "USDC/DAI"), FlashSource.UNISWAP_V2)
    v3_lender = (pool("uniswap_v3", "WBTC/USDC", 500), FlashSource.UNISWAP_V3)
    # V2 -> V2 with USDC from the flash pair that is not on the route
    usdc_2v2 = (v2(fork, "WETH/USDC"), v2(uni, "WETH/USDC"))
    fused = lambda route: (route[-1][0], FlashSource.UNISWAP_V2)  # noqa: E731 - the last pair lends
    cases = [
        ("v2 flash swap (fused), 2-hop V2->V2", weth_2v2, t["WETH"], weth, fused(weth_2v2)),
        ("v2 flash swap (fused), 3-hop V2->V3->V2", weth_3, t["WETH"], weth, fused(weth_3)),
        ("v2 flash (other pair), 2-hop V2->V2", usdc_2v2, t["USDC"], usdc, v2_lender),
        ("v2 flash (other pair), 2-hop V3->V2", usdc_v3v2, t["USDC"], usdc, v2_lender),
        ("v2 flash (other pair), 3-hop V3->V2->V3", usdc_3, t["USDC"], usdc, v2_lender),
        ("aave flashLoanSimple, 2-hop V2->V2", usdc_2v2, t["USDC"], usdc, aave),
        ("aave flashLoanSimple, 2-hop V3->V2", usdc_v3v2, t["USDC"], usdc, aave),
        ("aave flashLoanSimple, 3-hop V3->V2->V3", usdc_3, t["USDC"], usdc, aave),
        ("v3 flash, 2-hop V2->V2", usdc_2v2, t["USDC"], usdc, v3_lender),
        ("v3 flash, 2-hop V3->V2", usdc_v3v2, t["USDC"], usdc, v3_lender),
        ("v3 flash, 3-hop V3->V2->V3", usdc_3, t["USDC"], usdc, v3_lender),
    ]
    out = []
    for name, pools, token, amount, (lender, source) in cases:
        trade = book.lender(Trade(book.hops_along(token, list(pools)), amount, lender, source, 1, recipient))
        last_out = None
        if trade.fused and any(h.kind == PoolKind.UNISWAP_V3 for h in trade.hops):
            probe = book.lender(replace(trade, lender=m["aave_v3"]["pool"], source=FlashSource.AAVE_V3))
            last_out = quote(chain, arb, probe)
        out.append((name, with_v2_amounts(chain, trade, last_out)))
    return out


def _steady_state(chain: Chain, m: dict, recipient: str) -> None:
    """Make storage look like mainnet's: every V2 pair has non-zero price accumulators (a swap after
    time passed) and the recipient already holds each token. Otherwise one-off zero-to-non-zero
    SSTOREs (20 k gas each) would be billed to whichever trade touches the slot first."""
    chain.rpc("evm_increaseTime", [60])
    chain.rpc("evm_mine")
    for venue in ("uniswap_v2", "uniswap_v2_fork"):
        for pair in m[venue]["pairs"]:
            symbol = next(s for s, t in m["tokens"].items() if t["address"] == pair["token0"])
            swap_v2(chain, pair["address"], pair["token0"], 10 ** m["tokens"][symbol]["decimals"] // 100)
    for token in m["tokens"].values():
        chain.transact(erc20(chain, token["address"]), "transfer", recipient, 1)


def _measure(chain: Chain, fn) -> int:
    snap = chain.snapshot()
    try:
        chain.rpc("evm_increaseTime", [12])  # a new block, as on mainnet: pairs update accumulators
        return fn()
    finally:
        chain.revert_to(snap)


def run(args: argparse.Namespace) -> list[Row]:
    """Start anvil, deploy, measure every route; return the rows."""
    port = args.port or next(p for p in range(28545, 28645) if port_is_free(p))
    proc = start_anvil(port)
    try:
        chain = Chain(f"http://127.0.0.1:{port}")
        m = deploy_market(chain)
        weth, usdc, dai = (m["tokens"][s]["address"] for s in ("WETH", "USDC", "DAI"))
        swap_v2(chain, find_pool(m, "uniswap_v2", "WETH/USDC")["address"], usdc, 45_000 * 10**6)
        swap_v2(chain, find_pool(m, "uniswap_v2", "WETH/DAI")["address"], dai, 45_000 * 10**18)
        arb = arbitrage_contract(chain, m["flash_arbitrage"])
        recipient = dev_account(2).address
        _steady_state(chain, m, recipient)
        rows = []

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
            block = chain.w3.eth.get_block(before + 1, full_transactions=False)
            return chain.w3.eth.get_transaction_receipt(block["transactions"][0])["gasUsed"]

        rows.append(Row("gas", "baseline: V2 transfer + pair.swap from EOA (2 txs)", extra={"gas": _measure(chain, v2_baseline)}))
        rows.append(Row("gas", "baseline: V3 pool.swap via periphery (1 tx)", extra={"gas": _measure(chain, v3_baseline)}))
        def with_dust(trade: Trade) -> int:
            for token in m["tokens"].values():  # 1 raw unit of every token left in the contract
                chain.transact(erc20(chain, token["address"]), "transfer", arb.address, 1)
            return execute(chain, arb, trade)["gasUsed"]

        cases = [(name, trade, False) for name, trade in _routes(chain, arb, m, recipient)]
        cases.insert(1, (cases[0][0] + " +dust", cases[0][1], True))
        kept = _routes(chain, arb, m, arb.address)[0]
        cases.insert(2, (kept[0] + " +dust, profit kept in contract", kept[1], True))
        first = cases[0][1]
        unpriced = replace(first, hops=(replace(first.hops[0], amount_out=0), *first.hops[1:]))
        cases.insert(3, (cases[0][0] + ", hop 1 priced from getReserves", unpriced, False))
        for name, trade, dust in cases:
            measured = (lambda t=trade: with_dust(t)) if dust else (lambda t=trade: execute(chain, arb, t)["gasUsed"])
            gas = _measure(chain, measured)
            extra: dict = {"gas": gas}
            if name.startswith("v2 flash swap (fused), 2-hop"):
                extra["target"] = TARGET_V2_FLASH_2HOP
                extra["ok"] = "yes" if gas <= TARGET_V2_FLASH_2HOP else "NO"
            rows.append(Row("gas", name, extra=extra))
        return rows
    finally:
        stop_anvil(proc)
