"""docs/archive.md's DuckDB and pandas examples, run against an archive written here."""

from __future__ import annotations

import re
import time
from pathlib import Path

import duckdb

from mesh.protocol import encode_frame
from mesh.protocol.messages.defi import ArbitrageOpportunity
from mesh.protocol.messages.market import PoolSync, Trade
from nodes.archiver.store import DomainStore

DOC = Path(__file__).resolve().parents[3] / "docs" / "archive.md"
POOLS = (b"\1" * 20, b"\2" * 20)


def blocks(lang: str) -> list[str]:
    """The doc's fenced code blocks in ``lang``."""
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), re.S)


def write_archive(root: Path) -> None:
    """PoolSyncs of two pools (the last reserves known), trades and two opportunities."""
    now = time.time_ns()
    md = DomainStore(root, "market-data", 1 << 20, 3600)
    syncs = [(now + i, "ring:/ap.x.market-data.collector-evm", encode_frame([PoolSync(
        reserve0=2**100 + i, reserve1=i, timestamp_ns=1, block_number=i, venue=1,
        token0_decimals=18, token1_decimals=6, pool_address=POOLS[i % 2], token0_addr=b"\3" * 20,
        token1_addr=b"\4" * 20)], source=3, sequence=i)) for i in range(10)]
    trades = [(now + 10 + i, "ring:/ap.x.market-data.collector-cex", encode_frame([Trade(
        asset_id=5, price=100, volume=1, execution_timestamp_ns=1, venue=100, asset_type=1,
        reserved=0, side=0)], source=1, sequence=i)) for i in range(3)]
    md.append(syncs + trades)
    md.rotate()
    sig = DomainStore(root, "signal", 1 << 20, 3600)
    opps = []
    for i, usd in enumerate((5 * 10**8, 9 * 10**8)):
        opp = ArbitrageOpportunity(
            amount_in=10**18, expected_out=10**18 + 5, flash_fee=1, expected_profit=-(2**80) + i,
            opportunity_id=100 + i, chain_id=1, detected_block=7, valid_until_block=9,
            valid_until_ns=0, gas_estimate=1, gas_price_wei=1, net_profit_usd_q8=usd,
            hop_fee_ppm=[3000, 3000], flash_fee_ppm=0, strategy_id=1, confidence_bps=1,
            flash_source=0, pool_kinds=[1, 1], pools=list(POOLS), tokens=[POOLS[0]] * 3,
            flash_lender=POOLS[0])
        opps.append((now + 20 + i, "zmq:2/033/...", encode_frame([opp], source=20)))
    sig.append(opps)
    sig.rotate()


def test_the_docs_queries_answer_what_they_say(tmp_path: Path) -> None:
    write_archive(tmp_path)
    sql = blocks("sql")
    assert len(sql) == 3
    run = [duckdb.sql(q.replace("ARCHIVE", str(tmp_path))).fetchall() for q in sql]
    assert run[0] == [("market-data", 1, 3), ("market-data", 16, 10), ("signal", 33, 2)]
    assert run[1] == [("0x" + POOLS[0].hex(), 2**100 + 8, 8), ("0x" + POOLS[1].hex(), 2**100 + 9, 9)]
    assert [(r[0], r[1], r[2], r[3]) for r in run[2]] == [
        (101, 7, 9.0, -(2**80) + 1), (100, 7, 5.0, -(2**80))]
    (py,) = blocks("python")
    scope: dict = {"ARCHIVE": str(tmp_path)}
    exec(py, scope)
    assert sorted(scope["syncs"].reserve0) == [2**100 + i for i in range(10)]
    assert scope["latency_ms"] == 9 / 1e6
