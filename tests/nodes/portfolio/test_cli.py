"""``alphapulse pnl``: the store's books as text or JSON; bad input is one line and status 2."""

from __future__ import annotations

import sqlite3

import pytest

from mesh.protocol import decode_frame
from mesh.protocol.constants import ExecutionStatus as S
from nodes.portfolio.books import Books
from nodes.portfolio.store import MIGRATIONS, Store
from tests.nodes.portfolio.pnl import pnl_json, run_pnl
from tests.nodes.portfolio.results import USDC, WETH, frame, result


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "p.sqlite"
    store = Store(path)
    books = Books()
    for i, raw in enumerate([frame(*result(1, chain_profit=10**30, profit=10**30 - 5)),
                             frame(*result(2, S.REVERTED, profit=-3, usd_q8=-12_345_678)),
                             frame(*result(3, token=WETH, strategy=4)),
                             frame(result(4, S.SUBMITTED)[0])]):
        folded = books.fold(decode_frame(raw).tlvs, i + 1)
        store.append(raw, i + 1, folded.bookings, folded.submitted)
        books.apply(folded.bookings, folded.submitted)
    store.close()
    return path


def test_json_has_positions_pnl_and_strategies_as_exact_integers(db):
    rep = pnl_json(db)
    assert rep["positions"][USDC] == 10**30  # beyond 64 bits, exact
    assert rep["pnl"][USDC]["realized_profit"] == 10**30 - 8
    assert [s["strategy_id"] for s in rep["strategies"]] == [1, 4]
    one = rep["strategies"][0]
    assert (one["succeeded"], one["reverted"], one["pending"], one["success_bps"]) == (1, 1, 1, 5000)
    assert (rep["booked"], rep["pending"]) == (3, 1)


def test_text_shows_every_table(db):
    done = run_pnl("--db", str(db))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "positions" in out and "realized P&L" in out and "strategies" in out
    assert str(10**30) in out and "50.00%" in out and USDC in out


@pytest.mark.parametrize("args, says", [
    (["--db", "/nonexistent/portfolio.sqlite"], "no portfolio database"),
    (["--bogus"], "unrecognized arguments"),
    (["--db"], "expected one argument"),
])
def test_bad_arguments_and_missing_database_are_one_line_and_status_2(args, says):
    done = run_pnl(*args)
    assert done.returncode == 2
    assert says in done.stderr and done.stderr.count("\n") == 1 and not done.stdout


def test_a_database_of_another_version_or_not_a_database_is_one_line(tmp_path):
    old = tmp_path / "old.sqlite"
    conn = sqlite3.connect(old)
    conn.executescript(MIGRATIONS[0] + "INSERT INTO schema_version VALUES (1, 0);")
    conn.close()
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"\x00garbage" * 512)
    for path, says in ((old, "start the portfolio node once"), (junk, "cannot open")):
        done = run_pnl("--db", str(path))
        assert done.returncode == 2 and says in done.stderr and done.stderr.count("\n") == 1
