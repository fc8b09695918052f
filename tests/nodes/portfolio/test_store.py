"""The portfolio store: migrations, the journal and its replay, exact integers, read-only use."""

from __future__ import annotations

import sqlite3

import pytest

from mesh.protocol import decode_frame
from mesh.protocol.constants import ExecutionStatus as S
from nodes.portfolio.books import Books
from nodes.portfolio.store import MIGRATIONS, SCHEMA_VERSION, Store, StoreError, schema_version
from tests.nodes.portfolio.results import frame, result


def _append(store: Store, books: Books, raw: bytes, now: int) -> None:
    folded = books.fold(decode_frame(raw).tlvs, now)
    store.append(raw, now, folded.bookings, folded.submitted)
    books.apply(folded.bookings, folded.submitted)


def _replayed(store: Store) -> Books:
    books = Books()

    def fold(received_ns, raw):
        folded = books.fold(decode_frame(raw).tlvs, received_ns)
        books.apply(folded.bookings, folded.submitted)
        return folded.bookings, folded.submitted
    store.replay(fold)
    return books


def test_a_new_database_is_migrated_to_the_latest_version_in_wal_mode(tmp_path):
    store = Store(tmp_path / "p.sqlite")
    assert store.version == SCHEMA_VERSION == schema_version(store.conn) >= 2
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    versions = [r[0] for r in store.conn.execute("SELECT version FROM schema_version")]
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    store.close()
    assert Store(tmp_path / "p.sqlite").migrate() == []  # nothing left to apply


def test_a_version_1_database_is_migrated_with_its_data_kept(tmp_path):
    path = tmp_path / "old.sqlite"
    raw = frame(*result(5, chain_profit=1234, predicted=1200, gas_estimate=99))
    old = sqlite3.connect(path)
    old.executescript(MIGRATIONS[0])
    old.execute("INSERT INTO schema_version VALUES (1, 0)")
    old.execute("INSERT INTO journal (received_ns, frame) VALUES (?, ?)", (42, raw))
    old.execute("INSERT INTO bookings VALUES ('5', 1, 1, ?, '900', '900000000', '200000', "
                "'200000000000000', '10', '0x05', 42, 1)", ("0x" + "11" * 20,))
    old.commit()
    old.close()
    store = Store(path)
    assert store.version == SCHEMA_VERSION
    (b,) = store.bookings()  # the version-1 row, with its new columns at their defaults
    assert (b.opportunity_id, b.realized_profit, b.chain_profit, b.has_detail) == (5, 900, 0, False)
    books = _replayed(store)  # the journal fills in what version 1 did not keep
    (b,) = store.bookings()
    assert (b.chain_profit, b.predicted_profit, b.gas_estimate, b.has_detail) == (1234, 1200, 99, True)
    assert b.booked_ns == 42 and books.bookings[5] == b
    assert [seq for seq, _, _ in store.journal()] == [1]


def test_a_database_newer_than_the_code_is_refused(tmp_path):
    store = Store(tmp_path / "p.sqlite")
    store.conn.execute("INSERT INTO schema_version VALUES (?, 0)", (SCHEMA_VERSION + 1,))
    store.close()
    with pytest.raises(StoreError, match="schema version"):
        Store(tmp_path / "p.sqlite")


def test_a_failed_migration_leaves_the_database_at_its_version(tmp_path, monkeypatch):
    path = tmp_path / "p.sqlite"
    old = sqlite3.connect(path)
    old.executescript(MIGRATIONS[0] + "INSERT INTO schema_version VALUES (1, 0);")
    old.execute("ALTER TABLE bookings ADD COLUMN chain_profit TEXT")  # clashes with step 2
    old.commit()
    old.close()
    with pytest.raises(StoreError, match="migration to version 2"):
        Store(path)
    check = sqlite3.connect(path)
    assert schema_version(check) == 1
    assert "amount_in" not in [r[1] for r in check.execute("PRAGMA table_info(bookings)")]
    check.close()


def test_amounts_beyond_64_bits_round_trip_exactly(tmp_path):
    store = Store(tmp_path / "p.sqlite")
    books = Books()
    big = 2**127 - 1
    _append(store, books, frame(*result(2**64 - 1, chain_profit=2**128 - 1, profit=-big,
                                        block=2**64 - 1, gas_price=2**64 - 1)), 1)
    (b,) = store.bookings()
    assert (b.opportunity_id, b.chain_profit, b.realized_profit) == (2**64 - 1, 2**128 - 1, -big)
    assert b.gas_paid_wei == 200_000 * (2**64 - 1) and b.block_number == 2**64 - 1
    assert books.bookings[2**64 - 1] == b


def test_replaying_the_journal_rebuilds_the_same_books(tmp_path):
    store = Store(tmp_path / "p.sqlite")
    books = Books()
    feeds = [frame(result(1, S.SUBMITTED)[0]), frame(*result(2)), frame(*result(1)),
             frame(result(3, S.SUBMITTED)[0]), frame(*result(4, S.REVERTED, profit=-7))]
    for i, raw in enumerate(feeds):
        _append(store, books, raw, 100 + i)
    store.close()
    store = Store(tmp_path / "p.sqlite")
    again = _replayed(store)
    assert again.bookings == books.bookings and again.pending == books.pending
    assert store.bookings() == list(books.bookings.values())
    assert [p.opportunity_id for p in store.pending()] == [3]


def test_read_only_needs_an_existing_database_and_never_writes(tmp_path):
    with pytest.raises(StoreError, match="no portfolio database"):
        Store(tmp_path / "missing.sqlite", readonly=True)
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError):
        Store(tmp_path / "junk.sqlite", readonly=True)
    Store(tmp_path / "p.sqlite").close()
    ro = Store(tmp_path / "p.sqlite", readonly=True)
    with pytest.raises(StoreError):
        ro.append(b"x", 1, [], [])
    ro.close()
