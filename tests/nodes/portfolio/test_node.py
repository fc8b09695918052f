"""The portfolio node as a process: results in, books on disk, performance out; kill -9 safe."""

from __future__ import annotations

import time

from mesh.protocol import ExecutionResult, StrategyPerformance
from mesh.protocol.constants import ExecutionStatus as S
from nodes.runtime.testing import NodeHarness
from tests.nodes.portfolio.pnl import pnl_json
from tests.nodes.portfolio.results import USDC, WETH, result

BOOKED = "alphapulse_portfolio_booked_total"


def _settings(db) -> dict:
    return {"db_path": str(db), "reconcile": False, "performance_interval_s": 0.2}


def _wait_metric(h: NodeHarness, name: str, value: float, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while h.metric(name) < value:
        assert time.monotonic() < deadline, f"{name} stayed at {h.metric(name)} < {value}\n{h.log()[-2000:]}"
        time.sleep(0.02)


def _feed_all(h: NodeHarness) -> None:
    h.feed(result(1, S.SUBMITTED)[0])
    h.feed(*result(1, chain_profit=1000, profit=900))
    h.feed(*result(2, S.REVERTED, profit=-40, usd_q8=-4 * 10**8))
    h.feed(*result(3, token=WETH, chain_profit=7 * 10**18, profit=6 * 10**18, strategy=2))
    h.feed(result(4, S.SUBMITTED, strategy=2)[0])
    h.feed(*result(5, S.REJECTED))


def _expected_core(rep: dict) -> dict:
    return {k: rep[k] for k in ("positions", "pnl", "booked", "pending", "strategies")}


def test_results_are_booked_published_and_exported(tmp_path):
    db = tmp_path / "p.sqlite"
    with NodeHarness("portfolio", settings=_settings(db)) as h:
        _feed_all(h)
        _wait_metric(h, BOOKED, 4)
        perf = h.wait_for(StrategyPerformance, where=lambda p: p.strategy_id == 2)[-1]
        assert (perf.opportunities, perf.succeeded, perf.realized_profit) == (1, 1, 6 * 10**18)
        one = h.wait_for(StrategyPerformance, where=lambda p: p.strategy_id == 1
                         and p.opportunities == 3)[-1]
        assert (one.submitted, one.succeeded, one.reverted) == (2, 1, 1)
        assert one.realized_profit == 860 and one.profit_token == bytes.fromhex(USDC[2:])
        assert h.metric("alphapulse_portfolio_pending") == 1
        assert h.metric("alphapulse_portfolio_success_ratio", strategy="1") == 0.5
        assert h.metric("alphapulse_portfolio_pnl_usd", strategy="1") == 5.0
        assert h.metric("alphapulse_portfolio_results_total", strategy="1", status="rejected") == 1
        assert h.metric("alphapulse_portfolio_profit_shortfall", strategy="1", token=USDC) == 50
        rep = pnl_json(db)  # read-only, while the node runs
        assert rep["positions"] == {USDC: 1000, WETH: 7 * 10**18, "native": -3 * 200_000 * 10**9}
        assert rep["booked"] == 4 and rep["pending"] == 1
        h.assert_contract()
        assert h.stop() == 0


def test_books_survive_kill_9_and_resent_results_are_booked_once(tmp_path):
    db = tmp_path / "p.sqlite"
    with NodeHarness("portfolio", settings=_settings(db)) as h:
        _feed_all(h)
        _wait_metric(h, BOOKED, 4)
        assert h.proc is not None
        h.proc.kill()  # SIGKILL: no on_stop, no clean close
        h.proc.wait(10)
    before = pnl_json(db)
    with NodeHarness("portfolio", settings=_settings(db)) as h:
        assert h.metric(BOOKED) == 0  # nothing new booked, all replayed
        assert pnl_json(db) == before
        # the executor re-sends after a restart: every final again, and the pending one settles
        h.feed(*result(1, chain_profit=1000, profit=900))
        h.feed(*result(3, token=WETH, chain_profit=7 * 10**18, profit=6 * 10**18, strategy=2))
        h.feed(*result(4, strategy=2, token=WETH, chain_profit=5, profit=4))
        _wait_metric(h, BOOKED, 1)
        _wait_metric(h, "alphapulse_portfolio_duplicates_total", 2)
        after = pnl_json(db)
    assert after["booked"] == 5 and after["pending"] == 0
    assert after["positions"][WETH] == 7 * 10**18 + 5 and after["positions"][USDC] == 1000
    assert after["strategies"][0] == before["strategies"][0]


def test_a_result_killed_before_its_write_is_booked_when_resent(tmp_path):
    db = tmp_path / "p.sqlite"
    with NodeHarness("portfolio", settings=_settings(db)) as h:
        for oid in range(1, 21):  # kill -9 while these are arriving: some written, some not
            h.feed(*result(oid, chain_profit=oid))
        assert h.proc is not None
        h.proc.kill()
        h.proc.wait(10)
    with NodeHarness("portfolio", settings=_settings(db)) as h:
        for oid in range(1, 21):
            h.feed(*result(oid, chain_profit=oid))
        deadline = time.monotonic() + 10
        while (h.metric(BOOKED) + h.metric("alphapulse_portfolio_duplicates_total") < 20
               and time.monotonic() < deadline):
            time.sleep(0.02)
    rep = pnl_json(db)
    assert rep["booked"] == 20 and rep["positions"][USDC] == sum(range(1, 21))
    assert rep["strategies"][0]["succeeded"] == 20


def test_garbage_and_a_result_without_its_detail_are_counted_and_the_node_goes_on(tmp_path):
    db = tmp_path / "p.sqlite"
    with NodeHarness("portfolio", settings=_settings(db)) as h:
        h.feed_raw(b"3/050/0000000000000000/feeder:0000000000000001:1", b"\x00" * 40)
        h.feed(ExecutionResult(opportunity_id=1, status=77))
        h.feed(result(2)[0])  # mined, but no ExecutionDetail beside it
        h.feed(*result(3))
        _wait_metric(h, BOOKED, 2)
        assert h.metric("alphapulse_errors_total", kind="portfolio_bad_status") == 1
        assert h.metric("alphapulse_errors_total", kind="portfolio_missing_detail") == 1
        assert h.metric("alphapulse_errors_total", kind="bad_magic") == 1
        assert h.stop() == 0
    rep = pnl_json(db)
    assert rep["booked"] == 2 and rep["positions"][USDC] == 1000  # only the detailed one paid
