"""The devnet market simulator on the worker's anvil: blocks with many logs, an exact model, ground
truth that FlashArbitrage reproduces to the unit at the injection's block, seeded reproducibility,
and the command line (progress lines, clean stop on SIGTERM, exit 2 on bad options)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter

import pytest

from contracts.anvil import set_automine
from contracts.arbitrage import MAX_AMOUNT, Trade
from contracts.reverts import Reverted
from contracts.simulator.runner import Options, Simulator
from contracts.simulator.state import read_market
from contracts.simulator.truth import read_lines
from contracts.swapmath.cycles import aave_premium
from contracts.swapmath.pools import V3Pool
from mesh.protocol.constants import FlashSource, PoolKind

pytestmark = pytest.mark.chain

_MAIN = "import sys; from mesh.cli import main; sys.exit(main(sys.argv[1:]))"


def _run(net, out, **kw) -> Simulator:
    options = Options(out=out, **{"block_time": 0.2, "rate": 25.0, "inject_rate": 40.0, "seed": 11, **kw})
    sim = Simulator(net.chain, net.manifest, options)
    try:
        sim.run()
    finally:
        set_automine(net.chain, True)
    return sim


def _route_output(net, cycle: dict, amount_in: int, block: int, premium_bps: int) -> tuple[int, int]:
    """(amount out, amount owed to Aave) of the cycle executed by FlashArbitrage at ``block``."""
    kinds = [(h["pool"], PoolKind.UNISWAP_V3 if h["venue"] == "uniswap_v3" else PoolKind.UNISWAP_V2)
             for h in cycle["hops"]]
    hops = net.book.hops_along(cycle["start"], kinds)
    trade = Trade(hops, amount_in, net.manifest["aave_v3"]["pool"], FlashSource.AAVE_V3, MAX_AMOUNT,
                  net.recipient, lender_fee=premium_bps)
    with pytest.raises(Reverted) as info:  # an unreachable minimum profit makes it report the output
        net.chain.call(net.arb.address, net.arb.encode_abi("execute", args=[trade.encode()]), block=block)
    assert info.value.error == "ProfitBelowMinimum"
    out, owed, _ = info.value.error_args
    return out, owed


def test_run_packs_logs_into_blocks_and_its_ground_truth_is_what_the_chain_pays(net, tmp_path):
    start = net.chain.block_number()
    sim = _run(net, tmp_path / "truth.jsonl", blocks=16)
    counts = sim.counts
    assert counts.errors == 0 and counts.swaps > 20 and counts.injections >= 1
    end = net.chain.block_number()
    assert end - start >= 16

    addresses = [p["address"] for v in ("uniswap_v2", "uniswap_v2_fork") for p in net.manifest[v]["pairs"]]
    addresses += [p["address"] for p in net.manifest["uniswap_v3"]["pools"]]
    logs = net.chain.rpc("eth_getLogs", [{"fromBlock": hex(start + 1), "toBlock": hex(end), "address": addresses}])
    per_block = Counter(int(log["blockNumber"], 16) for log in logs)
    assert sum(1 for n in per_block.values() if n >= 3) >= 5, per_block

    # The model the simulator kept equals the chain, pool by pool.
    chain = read_market(net.chain, net.manifest)
    assert sim.market is not None
    for address, pool in chain.pools.items():
        mine = sim.market.pools[address]
        if isinstance(pool, V3Pool):
            assert isinstance(mine, V3Pool)
            assert (mine.sqrt_price_x96, mine.tick, mine.liquidity) == (pool.sqrt_price_x96, pool.tick, pool.liquidity)
            both = set(pool.ticks) & set(mine.ticks)
            assert {t: mine.net[t] for t in both} == {t: pool.net[t] for t in both}
        else:
            assert mine == pool

    lines = read_lines(tmp_path / "truth.jsonl")
    assert len(lines) == counts.truths == counts.injections
    assert sum(len(line["cycles"]) for line in lines) >= 1
    for line in lines:
        assert line["v"] == 1 and line["premium_bps"] == 5 and start < line["block"] <= end
        receipt = net.chain.rpc("eth_getTransactionReceipt", [line["tx"]])
        assert int(receipt["blockNumber"], 16) == line["block"] and int(receipt["status"], 16) == 1
        for cycle in line["cycles"]:
            assert line["pool"] in [h["pool"] for h in cycle["hops"]]
            gross = cycle["gross"]
            out, _ = _route_output(net, cycle, gross["amount_in"], line["block"], line["premium_bps"])
            assert out == gross["amount_out"] and gross["profit"] == out - gross["amount_in"] > 0
            if cycle["net"] is not None:
                n = cycle["net"]
                out, owed = _route_output(net, cycle, n["amount_in"], line["block"], line["premium_bps"])
                assert out == n["amount_out"] and owed == n["amount_in"] + n["premium"]
                assert n["premium"] == aave_premium(n["amount_in"], 5) and n["profit"] == out - owed > 0
                assert n["profit"] <= gross["profit"]


def test_the_same_seed_on_the_same_state_sends_the_same_actions(net, tmp_path):
    snap = net.chain.snapshot()
    first = _run(net, tmp_path / "a.jsonl", blocks=5, inject_rate=0.0)
    net.chain.revert_to(snap)
    snap = net.chain.snapshot()
    second = _run(net, tmp_path / "b.jsonl", blocks=5, inject_rate=0.0)
    net.chain.revert_to(snap)
    other = _run(net, tmp_path / "c.jsonl", blocks=5, inject_rate=0.0, seed=12)
    n = min(len(first.actions), len(second.actions), len(other.actions))
    assert n >= 10
    same = [a.as_dict() for a in list(first.actions)[:n]]
    assert same == [a.as_dict() for a in list(second.actions)[:n]]
    assert same != [a.as_dict() for a in list(other.actions)[:n]]


def test_command_prints_json_progress_and_stops_cleanly_on_sigterm(net, tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(net.manifest))
    proc = subprocess.Popen([sys.executable, "-c", _MAIN, "simulate", "--manifest", str(manifest), "--json",
                             "--block-time", "0.2", "--rate", "10", "--inject-rate", "0",
                             "--out", str(tmp_path / "t.jsonl")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = json.loads(proc.stdout.readline())  # the first block's progress
        assert set(first) == {"blocks", "swaps", "mints", "burns", "injections", "truths", "errors"}
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        set_automine(net.chain, True)
    assert proc.returncode == 0, err
    last = json.loads(out.strip().splitlines()[-1])
    assert last["blocks"] >= first["blocks"] >= 1 and last["errors"] == 0
    assert net.chain.rpc("anvil_getAutomine") is True


@pytest.mark.parametrize("bad", [["--rate", "-1"], ["--block-time", "0"], ["--seed", "x"],
                                 ["--inject-rate", "nan"], ["--blocks", "-2"]])
def test_bad_options_print_one_line_and_exit_2(bad):
    done = subprocess.run([sys.executable, "-c", _MAIN, "simulate", *bad], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and bad[0] in done.stderr


def test_missing_manifest_is_one_line_and_exit_2(tmp_path):
    done = subprocess.run([sys.executable, "-c", _MAIN, "simulate", "--manifest", str(tmp_path / "none.json")],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "no devnet manifest" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
