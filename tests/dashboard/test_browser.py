"""The dashboard page in a real browser: headless Chromium (Debian's) under Playwright.

- The page against a canned server (tests/dashboard/browser_support.py): its script runs
  without errors, renders every panel of a snapshot, bounds its stream tables, shows data as
  text only, sends the token only as a bearer header, and reconnects when dropped. Seconds.
- The page against the live mesh (``alphapulse run`` with the simulator on a private devnet,
  and ``alphapulse dashboard``): opportunities and executions appear, a screenshot is taken,
  Stop with the run directory's token halts the executor (seen on the page and, independently,
  in the executor's heartbeats), Resume runs it again. Minutes; ``alone``.

Both are skipped with the reason when Chromium or Playwright is missing.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench._e2e_mesh import SupervisedMesh
from mesh.protocol.constants import NodeState
from nodes.runtime.cli.status import collect_heartbeats
from tests.dashboard.browser_mesh import supervised_mesh, wait_dashboard
from tests.dashboard.browser_support import VIEWPORT, CannedServer, chromium, open_page, skip_reason

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")

#: Generous waits for the page (ms): a loaded 2-core machine.
PAGE_MS = 30_000
TOKEN = "canned-token-0123456789"
XSS = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


def _canned_snapshot(opportunities: int) -> list[dict[str, Any]]:
    """A snapshot as docs/dashboard.md describes it, with ``opportunities`` opportunities."""
    t0 = 1_790_000_000_000_000_000
    msgs: list[dict[str, Any]] = [
        {"type": "hello", "version": 1, "namespace": "apcanned", "run_dir_name": "run", "now_ns": t0},
        {"type": "nodes", "nodes": [
            {"name": "executor", "state": "HALTED", "age_ms": 120, "seq": 41, "pid": 4242},
            {"name": "strategy", "state": "RUNNING", "age_ms": 80, "seq": 40, "pid": 4243},
            {"name": "portfolio", "state": "MISSING", "age_ms": 9000, "seq": 3, "pid": None},
            {"name": "archiver", "state": "MISSING", "age_ms": None, "seq": None, "pid": None},
        ]},
        {"type": "stop", "latched": False, "scope": None, "reason": None, "stop_id": 0, "since_ns": 0},
        {"type": "rings", "rings": [
            {"name": "/ap.apcanned.market-data.collector-evm", "domain": "market-data",
             "writer": "collector-evm", "capacity": 65536, "fill_pct": 42.5, "written": 123456, "lost": 0},
            {"name": "/ap.apcanned.market-data.collector-cex", "domain": "market-data",
             "writer": "collector-cex", "capacity": 65536, "fill_pct": 100.0, "written": 999999, "lost": 17},
        ]},
        {"type": "prices", "pools": [
            {"pool": "0x" + "ab" * 20, "chain_id": 31337, "venue": "uniswap-v2", "pair": "WETH/USDC",
             "price": "3012.55", "block": 77},
        ]},
        {"type": "process", "programs": [
            {"program": "executor", "state": "RUNNING", "pid": 4242},
            {"program": "simulator", "state": "BACKOFF", "pid": None},
        ]},
        {"type": "alert", "severity": "CRITICAL", "kind": "DRAWDOWN", "message": XSS, "ts_ns": t0},
        {"type": "crosschain", "id": "77", "source_chain_id": 31337, "dest_chain_id": 31338,
         "token_in": "0x" + "11" * 20, "token_out": "0x" + "22" * 20, "amount_in": "1000000000000000000",
         "expected_out": "1010000000000000000", "net_profit_usd": 4.5, "bridge_cost_usd": 1.25, "ts_ns": t0},
        {"type": "pnl", "points": [[1_790_000_000_000 + 1000 * i, 0.5 * i - 2.0] for i in range(20)]},
    ]
    for i in range(opportunities):
        msgs.append({"type": "opportunity", "id": str(1000 + i), "strategy_id": 1, "profit": str(10**15 + i),
                     "profit_token": "0x" + "33" * 20, "net_profit_usd_q8": str(150_000_000 + i),
                     "net_profit_usd": 1.5, "amount_in": "5" + "0" * 18, "hops": 2, "ts_ns": t0 + i})
    for i in range(3):
        msgs.append({"type": "execution", "opportunity_id": str(1000 + i), "status": "INCLUDED",
                     "predicted_profit": "1000", "realized_profit": "990", "predicted_usd": 1.5,
                     "realized_usd": 1.45, "gas_used": "210000", "tx": "0x" + "ef" * 32, "ts_ns": t0 + i})
    msgs.append({"type": "execution", "opportunity_id": "999", "status": "REVERTED",  # no prediction seen
                 "predicted_profit": None, "realized_profit": "0", "predicted_usd": None,
                 "realized_usd": 0.0, "gas_used": "90000", "tx": None, "error": "reverted: no profit",
                 "ts_ns": t0 + 9})
    return msgs


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module's tests (Playwright's sync API runs one per thread)."""
    with chromium() as b:
        yield b


def _rows(page: Any, table: str) -> int:
    return int(page.locator(f"#{table} tbody tr").count())


def test_page_renders_a_canned_snapshot_as_text_and_bounds_its_streams(browser):
    with CannedServer(_canned_snapshot(150), TOKEN) as server, open_page(browser, server.url) as p:
        page = p.page
        page.wait_for_selector("body[data-ready=true]", timeout=PAGE_MS)
        page.wait_for_function("() => document.getElementById('executions-count').textContent === '4'",
                               timeout=PAGE_MS)
        assert page.get_attribute("#conn-state", "data-state") == "open"
        # nodes: one row each, the halted one marked (red by the stylesheet)
        assert page.get_attribute("#nodes tr[data-node=executor]", "data-state") == "HALTED"
        assert "state-halted" in (page.get_attribute("#nodes tr[data-node=executor]", "class") or "")
        assert page.get_attribute("#nodes tr[data-node=portfolio]", "data-state") == "MISSING"
        # streams: 150 received, 100 rows kept, newest first
        assert page.text_content("#opportunities-count") == "150"
        assert _rows(page, "opportunities") == 100
        assert page.get_attribute("#opportunities tbody tr:first-child", "data-id") == "1149"
        assert _rows(page, "executions") == 4
        assert page.get_attribute("#executions tbody tr:first-child", "data-status") == "REVERTED"
        assert "reverted: no profit" in (page.text_content("#executions tbody tr:first-child") or "")
        assert page.text_content("#nodes tr[data-node=archiver] td:nth-child(3)") == "never"
        # every other panel
        assert page.get_attribute("#rings tr[data-ring$=collector-cex]", "data-lost") == "17"
        assert _rows(page, "prices") == 1 and "3012.55" in (page.text_content("#prices") or "")
        assert page.get_attribute("#processes tr[data-program=simulator]", "data-state") == "BACKOFF"
        assert page.get_attribute("#crosschain tbody tr", "data-id") == "77"
        assert page.get_attribute("#stop-state", "data-latched") == "false"
        page.wait_for_function("() => document.getElementById('pnl-chart').dataset.points === '20'",
                               timeout=PAGE_MS)
        assert page.text_content("#pnl-total") == "$7.50"
        drawn = page.evaluate("""() => { const c = document.getElementById('pnl-chart');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }""")
        assert drawn > 1000
        # data is text: the alert's markup shows as characters and never runs
        assert page.text_content("#alerts td.msg") == XSS
        assert page.evaluate("window.__pwned") is None
        assert page.locator("#alerts img, #alerts script").count() == 0
        assert page.evaluate("window.__dashboard.errors") == 0
        assert p.errors == []


def test_stop_resume_send_the_token_as_a_bearer_header_only(browser):
    with CannedServer(_canned_snapshot(1), TOKEN) as server, open_page(browser, server.url) as p:
        page = p.page
        page.wait_for_selector("body[data-ready=true]", timeout=PAGE_MS)
        page.click("#stop-button")  # no token yet: nothing sent
        assert page.get_attribute("#control-result", "data-status") == "error"
        assert server.posts == []
        page.fill("#token", "wrong")
        page.click("#stop-button")
        page.wait_for_selector("#control-result[data-status='401']", timeout=PAGE_MS)
        page.fill("#token", TOKEN)
        page.fill("#reason", "test stop")
        server.no_answer = 1
        page.click("#stop-button")
        page.wait_for_selector("#control-result[data-status='502']", timeout=PAGE_MS)
        assert "did not answer" in (page.text_content("#control-result") or "")
        page.click("#stop-button")
        page.wait_for_selector("#control-result[data-status='200']", timeout=PAGE_MS)
        page.click("#resume-button")
        page.wait_for_function("() => document.getElementById('control-result').textContent === 'resume: done'",
                               timeout=PAGE_MS)
        assert [(x["action"], x["authorization"]) for x in server.posts] == [
            ("stop", "Bearer wrong"), ("stop", f"Bearer {TOKEN}"), ("stop", f"Bearer {TOKEN}"),
            ("resume", f"Bearer {TOKEN}")]
        assert json.loads(server.posts[2]["body"]) == {"reason": "test stop"}
        # the token lives in this tab's sessionStorage only, never in the document
        assert page.evaluate("Object.values(sessionStorage)") == [TOKEN]
        assert page.evaluate("localStorage.length") == 0
        assert TOKEN not in page.content()
        # a latched stop pushed by the server shows at once
        server.push({"type": "stop", "latched": True, "scope": "ALL", "reason": "OPERATOR",
                     "stop_id": 9, "since_ns": 1_790_000_000_000_000_000})
        page.wait_for_selector("#stop-state[data-latched=true]", timeout=PAGE_MS)
        assert page.get_attribute("#stop-badge", "data-latched") == "true"
        assert [e for e in p.errors if not re.search("status of (401|502)", e)] == []  # browser logs


def test_a_dropped_page_reconnects_and_takes_a_fresh_snapshot(browser):
    with CannedServer(_canned_snapshot(5), TOKEN) as server, open_page(browser, server.url) as p:
        page = p.page
        page.wait_for_function("() => document.getElementById('opportunities-count').textContent === '5'",
                               timeout=PAGE_MS)
        server.drop_clients()
        page.wait_for_function("() => window.__dashboard.byType.dropped === 1", timeout=PAGE_MS)
        page.wait_for_function("() => window.__dashboard.byType.hello === 2", timeout=PAGE_MS)
        page.wait_for_selector("#conn-state[data-state=open]", timeout=PAGE_MS)
        page.wait_for_function("() => document.getElementById('opportunities-count').textContent === '5'",
                               timeout=PAGE_MS)
        assert _rows(page, "opportunities") == 5  # the snapshot replaced the rows, no duplicates
        assert server.connections == 2
        assert p.errors == []


# ------------------------------------------------------------------------------------------
# The live mesh


#: How long the mesh may take to start and trade on a loaded 2-core machine (s).
READY_S = 900.0
#: How long a stop or a resume may take to show, on the page and in the heartbeats (s).
CONTROL_S = 120.0
#: Presses of Stop or Resume answered 502 (risk did not answer in time) before the test fails.
PRESSES = 5


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR (asserting it is a PNG)."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", head
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def _executor_state(mesh: SupervisedMesh) -> str:
    """The executor's state in its heartbeats over one second ("SILENT" when none came)."""
    seen = collect_heartbeats(mesh.cfg, 1.0)
    hb = seen.get("executor", {}).get("hb")
    return NodeState(hb.state).name if hb is not None else "SILENT"


def _wait_state(mesh: SupervisedMesh, state: str) -> None:
    deadline = time.monotonic() + CONTROL_S
    last = ""
    while (last := _executor_state(mesh)) != state:
        assert time.monotonic() < deadline, f"executor's heartbeats say {last}, not {state}"


def _press(page: Any, action: str) -> None:
    """Press Stop or Resume until the dashboard answers 200. A 502 (the risk node did not answer
    within the dashboard's timeout, possible on a loaded machine) is pressed again, as an
    operator would; any other answer fails."""
    for _ in range(PRESSES):
        page.click(f"#{action}-button")
        page.wait_for_function(
            """(a) => { const r = document.getElementById('control-result');
                        return r.dataset.status !== 'pending' && r.textContent.startsWith(a + ':'); }""",
            arg=action, timeout=CONTROL_S * 1000)
        status = page.get_attribute("#control-result", "data-status")
        if status == "200":
            return
        assert status == "502", page.text_content("#control-result")
    raise AssertionError(f"{action}: the risk node did not answer {PRESSES} times")


@pytest.mark.alone
@pytest.mark.chain
@pytest.mark.timeout(1500)
def test_live_page_shows_trades_and_its_stop_halts_the_executor(browser, tmp_path):
    mesh, url = supervised_mesh()
    with mesh:
        wait_dashboard(mesh, url, READY_S)
        with open_page(browser, url) as p:
            _trade_stop_resume(mesh, p, tmp_path)


def _trade_stop_resume(mesh: SupervisedMesh, p: Any, tmp_path: Path) -> None:
    """Trades appear; a screenshot; Stop halts the executor, Resume runs it again."""
    page = p.page
    page.wait_for_selector("body[data-ready=true]", timeout=PAGE_MS)
    deadline_ms = READY_S * 1000
    page.wait_for_function("() => +document.getElementById('opportunities-count').textContent > 0 && "
                           "+document.getElementById('executions-count').textContent > 0",
                           timeout=deadline_ms)
    page.wait_for_selector("#nodes tr[data-node=executor][data-state=RUNNING]", timeout=deadline_ms)
    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot))
    assert _png_size(shot) == (VIEWPORT["width"], VIEWPORT["height"])
    print(f"\nscreenshot: {shot}")

    page.fill("#token", (mesh.run_dir / "dashboard.token").read_text().strip())
    page.fill("#reason", "browser test")
    _press(page, "stop")
    page.wait_for_selector("#nodes tr[data-node=executor][data-state=HALTED]", timeout=CONTROL_S * 1000)
    page.wait_for_selector("#stop-state[data-latched=true]", timeout=CONTROL_S * 1000)
    _wait_state(mesh, "HALTED")

    _press(page, "resume")
    page.wait_for_selector("#nodes tr[data-node=executor][data-state=RUNNING]", timeout=CONTROL_S * 1000)
    page.wait_for_selector("#stop-state[data-latched=false]", timeout=CONTROL_S * 1000)
    _wait_state(mesh, "RUNNING")
    assert [e for e in p.errors if "status of 502" not in e] == []  # the browser logs a 502
