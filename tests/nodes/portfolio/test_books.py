"""The books: each opportunity's final result booked once, and what the tallies say."""

from __future__ import annotations

from mesh.protocol import ExecutionResult
from mesh.protocol.constants import ExecutionStatus as S
from nodes.portfolio.books import NATIVE, Books
from nodes.portfolio.report import performance, report
from tests.nodes.portfolio.results import USDC, WETH, result


def _feed(books: Books, *tlvs, now: int = 1) -> None:
    folded = books.fold(tlvs, now)
    books.apply(folded.bookings, folded.submitted)


def test_submitted_then_included_is_booked_once_as_included():
    books = Books()
    sub, _ = result(7, S.SUBMITTED)
    _feed(books, sub)
    assert list(books.pending) == [7] and not books.bookings
    _feed(books, *result(7))
    assert not books.pending and books.bookings[7].status == S.INCLUDED
    (s,) = report(books)["strategies"]
    assert (s["results"], s["submitted"], s["succeeded"], s["pending"]) == (1, 1, 1, 0)


def test_a_repeated_final_or_a_late_submitted_changes_nothing():
    books = Books()
    _feed(books, *result(7))
    again = books.fold(result(7), 2)
    late = books.fold([result(7, S.SUBMITTED)[0]], 3)
    conflicting = books.fold([result(7, S.REVERTED)[0]], 4)
    assert not again.changes and again.duplicates == 1 and again.conflicts == 0
    assert not late.changes and late.duplicates == 1
    assert not conflicting.changes and conflicting.conflicts == 1
    # twice in one frame: the first counts
    both = books.fold([*result(8), *result(8, S.REVERTED)], 5)
    assert [b.status for b in both.bookings] == [S.INCLUDED] and both.duplicates == 1


def test_an_unknown_status_is_counted_not_booked():
    folded = Books().fold([ExecutionResult(opportunity_id=1, status=9)], 1)
    assert folded.invalid == 1 and not folded.changes


def test_positions_pnl_and_counts_per_strategy_and_token():
    books = Books()
    _feed(books, *result(1, chain_profit=1000, profit=900, gas_used=100, gas_price=3))
    _feed(books, *result(2, S.REVERTED, profit=-300, gas_used=50, gas_price=3, usd_q8=-3 * 10**8))
    _feed(books, *result(3, S.REJECTED))
    _feed(books, *result(4, token=WETH, chain_profit=5 * 10**18, profit=4 * 10**18, strategy=2,
                         predicted=4 * 10**18 + 7, gross=5 * 10**18 + 1))
    _feed(books, *result(5, S.DROPPED))
    assert books.positions[USDC] == 1000 and books.positions[WETH] == 5 * 10**18
    assert books.positions[NATIVE] == -(100 * 3 + 50 * 3 + 200_000 * 10**9)
    rep = report(books)
    assert rep["pnl"][USDC]["realized_profit"] == 600
    assert rep["pnl"][WETH]["realized_profit"] == 4 * 10**18
    one, two = rep["strategies"]
    assert (one["results"], one["submitted"], one["executed"], one["succeeded"], one["reverted"],
            one["rejected"], one["dropped"]) == (4, 3, 2, 1, 1, 1, 1)
    assert one["success_bps"] == 3333
    assert one["realized_profit_usd_q8"] == 6 * 10**8
    # predicted vs realized over the included results with a detail
    assert (one["predicted_profit"], one["compared_realized"]) == (950, 900)
    assert (one["predicted_gross"], one["compared_chain"]) == (1010, 1000)
    assert (one["gas_estimate"], one["gas_used"], one["gas_compared"]) == (420_000, 150, 2)
    assert two["tokens"][WETH]["profit_shortfall"] == 7
    assert two["tokens"][WETH]["gross_shortfall"] == 1


def test_performance_is_one_frame_per_strategy_one_message_per_token():
    books = Books()
    _feed(books, *result(1), now=100)
    _feed(books, *result(2, token=WETH, profit=5), now=200)
    _feed(books, *result(3, strategy=9, profit=-2**130), now=300)  # beyond i128: clamped
    frames = performance(books, 1000)
    assert [[m.strategy_id for m in f] for f in frames] == [[1, 1], [9]]
    usdc, weth = frames[0]
    assert (usdc.realized_profit, usdc.opportunities, usdc.succeeded) == (900, 1, 1)
    assert (usdc.window_start_ns, usdc.window_end_ns) == (100, 1000)
    assert weth.profit_token == bytes.fromhex(WETH[2:]) and weth.realized_profit == 5
    assert frames[1][0].realized_profit == -(2**127)
