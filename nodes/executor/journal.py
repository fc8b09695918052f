"""The executor's journal: every opportunity it claimed, what it sent, how it ended (SQLite, WAL).

An opportunity id is claimed (committed) before anything is signed, so one opportunity is never
executed twice, also across a restart; a transaction is written before it is sent, so a restarted
executor finds what it still has in flight and tracks it to its end.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from alphapulse.errors import ConfigError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (
    opportunity_id TEXT PRIMARY KEY,  -- u64 as decimal text (SQLite integers are signed)
    claimed_ns INTEGER NOT NULL,
    state TEXT NOT NULL,              -- claimed, sent, settled
    nonce INTEGER,
    tx_hash TEXT,
    raw TEXT,                         -- the signed transaction, hex (public once sent)
    frame BLOB,                       -- the opportunity's frame, to rebuild the result after a restart
    status INTEGER
);
"""


@dataclass(frozen=True, slots=True)
class Pending:
    """A transaction a previous run sent and never saw settle."""

    opportunity_id: int
    nonce: int
    tx_hash: bytes
    raw: bytes
    frame: bytes


class Journal:
    """Claims and transactions in a SQLite file (``:memory:`` for a throw-away journal).

    Used from the node's loop thread only.

    Raises
    ------
    ConfigError
        The file cannot be opened or is not this journal.
    """

    def __init__(self, path: str | Path):
        try:
            self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across a crash of the process
            self.db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise ConfigError(f"executor journal {path}: {exc}") from exc

    def claim(self, opportunity_id: int, now_ns: int, frame: bytes = b"") -> bool:
        """Claim an opportunity; False when it was claimed before (a duplicate)."""
        cur = self.db.execute("INSERT OR IGNORE INTO claims (opportunity_id, claimed_ns, state, frame) "
                              "VALUES (?, ?, 'claimed', ?)", (str(opportunity_id), now_ns, frame))
        return cur.rowcount == 1

    def known(self, opportunity_id: int) -> bool:
        """True when the opportunity was claimed before (by this run or an earlier one)."""
        return self.db.execute("SELECT 1 FROM claims WHERE opportunity_id=?",
                               (str(opportunity_id),)).fetchone() is not None

    def sent(self, opportunity_id: int, nonce: int, tx_hash: bytes, raw: bytes) -> None:
        """Record the transaction sent for a claim (the latest one, after a replacement)."""
        self.db.execute("UPDATE claims SET state='sent', nonce=?, tx_hash=?, raw=? WHERE opportunity_id=?",
                        (nonce, tx_hash.hex(), raw.hex(), str(opportunity_id)))

    def settled(self, opportunity_id: int, status: int) -> None:
        """Record how a claim ended."""
        self.db.execute("UPDATE claims SET state='settled', status=? WHERE opportunity_id=?",
                        (status, str(opportunity_id)))

    def pending(self) -> list[Pending]:
        """Transactions sent and not settled, oldest nonce first."""
        rows = self.db.execute("SELECT opportunity_id, nonce, tx_hash, raw, frame FROM claims "
                               "WHERE state='sent' ORDER BY nonce").fetchall()
        return [Pending(int(o), n, bytes.fromhex(h), bytes.fromhex(r), bytes(f or b"")) for o, n, h, r, f in rows]

    def close(self) -> None:
        """Close the file."""
        self.db.close()
