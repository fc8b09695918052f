"""The portfolio's SQLite store: a journal of received frames, and the books derived from it.

One file (stdlib :mod:`sqlite3`, WAL mode, ``synchronous=FULL``) holds:

- ``journal``: every frame that changed the books, raw bytes as received, in arrival order. It
  is the source of truth: on start the node replays it and rewrites the derived tables, so a
  change in how results are booked applies to the whole history.
- ``bookings``: one row per opportunity, its final result (see :class:`Booking`).
- ``pending``: opportunities submitted (status SUBMITTED) whose final result has not come yet.
- ``schema_version``: one row per migration applied.

A frame's journal row and its derived rows are written in one transaction, committed before
anything derived from it is published: a node killed at any moment either has the frame (and
replays it) or never acted on it. Every amount is stored as a decimal TEXT string (SQLite
INTEGER is 64-bit; money and wire u64 values may not fit), read back as Python ``int``.

Migrations are SQL steps (:data:`MIGRATIONS`); a database at version ``v`` gets steps
``v .. len(MIGRATIONS) - 1`` at open, each in a transaction with its ``schema_version`` row.

Thread-safety: a :class:`Store` belongs to the thread that opened it. Readers in other
processes (``alphapulse pnl``) open their own read-only connection; WAL lets them read while
the node writes.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from alphapulse.errors import AlphaPulseError
from nodes.portfolio.booking import Booking


class StoreError(AlphaPulseError):
    """The portfolio database cannot be opened, migrated, read or written."""

    kind = "portfolio_store"


#: Schema steps: ``MIGRATIONS[i]`` takes a database from version ``i`` to ``i + 1``.
MIGRATIONS: tuple[str, ...] = (
    # 1: journal, bookings (result fields), pending submissions
    """
    CREATE TABLE schema_version (version INTEGER NOT NULL, applied_ns INTEGER NOT NULL);
    CREATE TABLE journal (seq INTEGER PRIMARY KEY AUTOINCREMENT,
                          received_ns INTEGER NOT NULL, frame BLOB NOT NULL);
    CREATE TABLE bookings (opportunity_id TEXT PRIMARY KEY, strategy_id INTEGER NOT NULL,
                           status INTEGER NOT NULL, profit_token TEXT NOT NULL,
                           realized_profit TEXT NOT NULL, realized_profit_usd_q8 TEXT NOT NULL,
                           gas_used TEXT NOT NULL, gas_paid_wei TEXT NOT NULL,
                           block_number TEXT NOT NULL, tx_hash TEXT NOT NULL,
                           booked_ns INTEGER NOT NULL, journal_seq INTEGER NOT NULL);
    CREATE TABLE pending (opportunity_id TEXT PRIMARY KEY, strategy_id INTEGER NOT NULL,
                          submitted_ns INTEGER NOT NULL, journal_seq INTEGER NOT NULL);
    """,
    # 2: the ExecutionDetail's figures (predicted and chain-reported profit, gas estimate)
    """
    ALTER TABLE bookings ADD COLUMN amount_in TEXT NOT NULL DEFAULT '0';
    ALTER TABLE bookings ADD COLUMN effective_gas_price_wei TEXT NOT NULL DEFAULT '0';
    ALTER TABLE bookings ADD COLUMN chain_profit TEXT NOT NULL DEFAULT '0';
    ALTER TABLE bookings ADD COLUMN predicted_profit TEXT NOT NULL DEFAULT '0';
    ALTER TABLE bookings ADD COLUMN predicted_gross TEXT NOT NULL DEFAULT '0';
    ALTER TABLE bookings ADD COLUMN gas_estimate TEXT NOT NULL DEFAULT '0';
    ALTER TABLE bookings ADD COLUMN has_detail INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX bookings_by_strategy ON bookings (strategy_id);
    """,
)
#: The version this code writes and reads.
SCHEMA_VERSION = len(MIGRATIONS)

_BOOKING_COLUMNS = ("opportunity_id", "strategy_id", "status", "profit_token", "realized_profit",
                    "realized_profit_usd_q8", "amount_in", "gas_used", "effective_gas_price_wei",
                    "gas_paid_wei", "block_number", "tx_hash", "chain_profit",
                    "predicted_profit", "predicted_gross", "gas_estimate", "has_detail",
                    "booked_ns")
#: Columns held as decimal text (Python int in a :class:`Booking`).
_TEXT_INTS = frozenset({"opportunity_id", "realized_profit", "realized_profit_usd_q8",
                        "amount_in", "gas_used", "effective_gas_price_wei", "gas_paid_wei",
                        "block_number", "chain_profit", "predicted_profit", "predicted_gross",
                        "gas_estimate"})


@dataclass(frozen=True, slots=True)
class Pending:
    """An opportunity submitted (SUBMITTED seen) and not settled yet."""

    opportunity_id: int
    strategy_id: int
    submitted_ns: int


#: What one journaled frame books and leaves pending (see :meth:`Store.replay`).
Fold = Callable[[int, bytes], tuple[list["Booking"], list[Pending]]]


def _row(b: Booking, seq: int) -> tuple[object, ...]:
    values = [str(getattr(b, c)) if c in _TEXT_INTS else getattr(b, c) for c in _BOOKING_COLUMNS]
    values[_BOOKING_COLUMNS.index("has_detail")] = int(b.has_detail)
    return (*values, seq)


def _booking(row: sqlite3.Row) -> Booking:
    values: dict[str, Any] = {c: int(row[c]) if c in _TEXT_INTS else row[c]
                              for c in _BOOKING_COLUMNS}
    values["has_detail"] = bool(values["has_detail"])
    return Booking(**values)


_INSERT_BOOKING = (f"INSERT INTO bookings ({', '.join(_BOOKING_COLUMNS)}, journal_seq) "
                   f"VALUES ({', '.join('?' * (len(_BOOKING_COLUMNS) + 1))})")


def schema_version(conn: sqlite3.Connection) -> int:
    """The version of the database behind ``conn`` (0 = empty, no schema)."""
    has = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                       "name = 'schema_version'").fetchone()
    if has is None:
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


class Store:
    """The portfolio database at ``path`` (created and migrated unless ``readonly``).

    Parameters
    ----------
    path : str or Path
    readonly : bool
        Open an existing database for reading only (``alphapulse pnl``); it must be at
        :data:`SCHEMA_VERSION`.

    Raises
    ------
    StoreError
        Missing (read-only), unreadable or not a database, or newer or older than this code
        reads.
    """

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        try:
            if readonly:
                if not self.path.is_file():
                    raise StoreError(f"no portfolio database at {self.path}")
                uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
                self.conn = sqlite3.connect(uri, uri=True, isolation_level=None)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.conn = sqlite3.connect(self.path, isolation_level=None)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA busy_timeout = 5000")
            if not readonly:
                self.conn.execute("PRAGMA journal_mode = WAL")
                self.conn.execute("PRAGMA synchronous = FULL")
            self.version = schema_version(self.conn)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the portfolio database {self.path}: {exc}") from exc
        if self.version > SCHEMA_VERSION:
            self.close()
            raise StoreError(f"{self.path} is at schema version {self.version}; this code "
                             f"knows up to {SCHEMA_VERSION}")
        if readonly and self.version != SCHEMA_VERSION:
            self.close()
            raise StoreError(f"{self.path} is at schema version {self.version}, not "
                             f"{SCHEMA_VERSION}: start the portfolio node once to migrate it")
        if not readonly:
            self.migrate()

    def close(self) -> None:
        """Close the connection (committed data is already on disk)."""
        self.conn.close()

    def migrate(self) -> list[int]:
        """Apply the missing migrations; return the versions reached, in order."""
        applied = []
        for version in range(self.version + 1, SCHEMA_VERSION + 1):
            script = MIGRATIONS[version - 1]
            try:
                self.conn.executescript(
                    f"BEGIN IMMEDIATE;\n{script}\nINSERT INTO schema_version VALUES "
                    f"({version}, {time.time_ns()});\nCOMMIT;")
            except sqlite3.Error as exc:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise StoreError(f"{self.path}: migration to version {version} failed: "
                                 f"{exc}") from exc
            self.version = version
            applied.append(version)
        return applied

    # -- writing -------------------------------------------------------------------------------

    def append(self, frame: bytes, received_ns: int, bookings: list[Booking],
               submitted: list[Pending]) -> int:
        """Journal ``frame`` with what it books and what it leaves pending, in one committed
        transaction; return the frame's journal sequence."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            cur = self.conn.execute("INSERT INTO journal (received_ns, frame) VALUES (?, ?)",
                                    (received_ns, frame))
            seq = int(cur.lastrowid or 0)
            self._write(bookings, submitted, seq)
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise StoreError(f"cannot write to {self.path}: {exc}") from exc
        return seq

    def _write(self, bookings: list[Booking], submitted: list[Pending], seq: int) -> None:
        for b in bookings:
            self.conn.execute("DELETE FROM pending WHERE opportunity_id = ?",
                              (str(b.opportunity_id),))
            self.conn.execute(_INSERT_BOOKING, _row(b, seq))
        for p in submitted:
            self.conn.execute("INSERT INTO pending VALUES (?, ?, ?, ?)",
                              (str(p.opportunity_id), p.strategy_id, p.submitted_ns, seq))

    def replay(self, fold: Fold) -> int:
        """Rebuild the derived tables from the journal, in one transaction: ``fold(received_ns,
        frame)`` returns what each frame books and leaves pending. Returns the frames replayed.
        """
        frames = 0
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("DELETE FROM bookings")
            self.conn.execute("DELETE FROM pending")
            rows = self.conn.execute("SELECT seq, received_ns, frame FROM journal ORDER BY seq")
            for seq, received_ns, frame in rows.fetchall():
                bookings, submitted = fold(int(received_ns), bytes(frame))
                self._write(bookings, submitted, int(seq))
                frames += 1
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise StoreError(f"cannot replay the journal of {self.path}: {exc}") from exc
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        return frames

    # -- reading -------------------------------------------------------------------------------

    def journal(self) -> Iterator[tuple[int, int, bytes]]:
        """``(seq, received_ns, frame)`` of every journaled frame, in order."""
        try:
            for row in self.conn.execute("SELECT seq, received_ns, frame FROM journal "
                                         "ORDER BY seq"):
                yield int(row[0]), int(row[1]), bytes(row[2])
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the journal of {self.path}: {exc}") from exc

    def bookings(self) -> list[Booking]:
        """Every booked opportunity, in booking order."""
        try:
            rows = self.conn.execute("SELECT * FROM bookings ORDER BY journal_seq, rowid")
            return [_booking(r) for r in rows]
        except (sqlite3.Error, ValueError, TypeError) as exc:
            raise StoreError(f"cannot read the bookings of {self.path}: {exc}") from exc

    def pending(self) -> list[Pending]:
        """Every submitted opportunity not settled yet."""
        try:
            rows = self.conn.execute("SELECT * FROM pending ORDER BY journal_seq")
            return [Pending(int(r["opportunity_id"]), int(r["strategy_id"]),
                            int(r["submitted_ns"])) for r in rows]
        except (sqlite3.Error, ValueError, TypeError) as exc:
            raise StoreError(f"cannot read the pending submissions of {self.path}: "
                             f"{exc}") from exc
