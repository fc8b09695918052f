"""Part files: journal -> Parquet, rotation, recovery of a killed writer's journal, reading."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mesh.protocol import encode_frame
from mesh.protocol.messages.defi import ArbitrageOpportunity
from mesh.protocol.messages.market import PoolSync, Trade
from nodes.archiver.read import ArchiveError, iter_archive
from nodes.archiver.schema import SCHEMA
from nodes.archiver.store import DomainStore, read_journal, recover

POOL = bytes(range(20))


def sync(seq: int, r0: int = 2**100 + 1) -> bytes:
    """A PoolSync frame (a 128-bit reserve, to check the exact decimal column)."""
    m = PoolSync(reserve0=r0, reserve1=seq, timestamp_ns=1, block_number=seq, venue=1,
                 token0_decimals=18, token1_decimals=6, pool_address=POOL,
                 token0_addr=b"\2" * 20, token1_addr=b"\3" * 20)
    return encode_frame([m], source=3, sequence=seq, timestamp_ns=1_000 + seq)


def trade(seq: int) -> bytes:
    """A Trade frame."""
    m = Trade(asset_id=9, price=-5, volume=7, execution_timestamp_ns=1, venue=2,
              asset_type=1, reserved=0, side=1)
    return encode_frame([m], source=4, sequence=seq, timestamp_ns=5)


def test_round_trip_in_recv_order_with_decoded_columns(tmp_path: Path) -> None:
    now = time.time_ns()
    md = DomainStore(tmp_path, "market-data", 1 << 20, 3600)
    sig = DomainStore(tmp_path, "signal", 1 << 20, 3600)
    md.append([(now + 2 * i, "ring:a", sync(i)) for i in range(100)])
    sig.append([(now + 2 * i + 1, "zmq:t", trade(i)) for i in range(100)])
    closed = [md.rotate(), sig.rotate()]
    assert all(c is not None and c.rows == 100 for c in closed)
    frames = list(iter_archive(tmp_path))
    assert [f.recv_ns for f in frames] == [now + i for i in range(200)]
    assert frames[0].frame == sync(0) and frames[1].frame == trade(0)
    assert frames[0].msg_type == 16 and frames[0].sequence == 0 and frames[0].source == "ring:a"
    only = list(iter_archive(tmp_path, domains=["signal"]))
    assert len(only) == 100 and {f.domain for f in only} == {"signal"}
    table = pq.read_table(closed[0].path)
    assert table.schema.equals(SCHEMA, check_metadata=False)
    row = table.slice(5, 1).to_pylist()[0]
    assert row["reserve0"] == str(2**100 + 1) and row["pool"] == "0x" + POOL.hex()
    assert row["block_number"] == 5 and row["header_timestamp_ns"] == 1_005


def test_rotation_by_size_and_age(tmp_path: Path) -> None:
    now = time.time_ns()
    store = DomainStore(tmp_path, "market-data", max_bytes=10 * len(sync(0)), max_seconds=1.0)
    closed = store.append([(now + i, "ring:a", sync(i)) for i in range(25)])
    assert [c.rows for c in closed] == [10, 10]
    assert not store.due(now + 25) and store.due(now + 2_000_000_000)
    closed = store.append([(now + 2_000_000_000, "ring:a", sync(99))])
    assert [c.rows for c in closed] == [5]
    assert store.rotate().rows == 1  # type: ignore[union-attr]
    assert len(list(iter_archive(tmp_path))) == 26


def test_recover_a_killed_writers_journal_cutting_the_torn_record(tmp_path: Path) -> None:
    now = time.time_ns()
    store = DomainStore(tmp_path, "market-data", 1 << 20, 3600)
    store.append([(now + i, "ring:a", sync(i)) for i in range(10)])
    journal = next(tmp_path.rglob("*.journal"))
    with journal.open("ab") as f:
        f.write(b"\x40\x00\x00\x00partial")  # a record cut off mid-append
    assert len(read_journal(journal)[0]) == 10
    parts = recover(tmp_path)
    assert [(p.rows, p.torn) for p in parts] == [(10, 11)]
    assert not list(tmp_path.rglob("*.journal"))
    assert [f.sequence for f in iter_archive(tmp_path)] == list(range(10))


def test_bad_archives_raise_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="does not exist"):
        list(iter_archive(tmp_path / "nope"))
    with pytest.raises(ArchiveError, match="no Parquet part"):
        list(iter_archive(tmp_path))
    bad = tmp_path / "date=2026-01-01" / "domain=signal" / "x.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(ArchiveError, match="not a readable Parquet"):
        list(iter_archive(tmp_path))


def test_opportunity_columns(tmp_path: Path) -> None:
    opp = ArbitrageOpportunity(
        amount_in=10**18, expected_out=10**18 + 5, flash_fee=1, expected_profit=-(2**90),
        opportunity_id=77, chain_id=1, detected_block=12, valid_until_block=13,
        valid_until_ns=0, gas_estimate=1, gas_price_wei=1, net_profit_usd_q8=-3,
        hop_fee_ppm=[3000, 3000], flash_fee_ppm=0, strategy_id=1, confidence_bps=1,
        flash_source=0, pool_kinds=[1, 1], pools=[POOL, POOL], tokens=[POOL, POOL, POOL],
        flash_lender=POOL)
    store = DomainStore(tmp_path, "signal", 1 << 20, 3600)
    store.append([(time.time_ns(), "zmq:t", encode_frame([opp], source=5))])
    part = store.rotate()
    assert part is not None
    row = pq.read_table(part.path).to_pylist()[0]
    assert (row["opportunity_id"], row["expected_profit"], row["net_profit_usd_q8"]) == \
        (77, str(-(2**90)), -3)
