"""``alphapulse dashboard`` against a real mesh: a risk node (NodeHarness), the harness's
ZeroMQ feeder and a real market-data ring, the dashboard as its own process on a free port.

Message contents are checked exactly (integers as decimal strings equal to the frames'
values), a client gets the snapshot then deltas, stop and resume really reach the risk node
and the kill flag, a client that never reads is dropped while another keeps everything, and
hostile requests get typed, counted errors.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from websockets.sync.client import ClientConnection, connect

from mesh.protocol import (
    ArbitrageOpportunity,
    BlockEnd,
    CrossChainArbitrageSignal,
    ExecutionDetail,
    ExecutionResult,
    Heartbeat,
    PoolSync,
    ProcessEvent,
    RiskAlert,
    encode_frame,
)
from mesh.protocol.constants import ExecutionStatus, ProcessState, RelayDomain, Severity
from nodes.runtime.testing import reader_ready
from shm.kill_flag import KillFlag
from tests.dashboard.server_support import LiveDashboard, risk_and_dashboard

BIG = 2**100 + 12345  # beyond float and JS integer precision: must survive as a string
WETH, USDC = b"\x11" * 20, b"\x22" * 20
POOL = b"\x33" * 20


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[Any, LiveDashboard]]:
    """One risk node and one dashboard (client queue 64) for the module's tests."""
    with risk_and_dashboard("--client-queue", "64") as pair:
        yield pair


def recv_until(ws: ClientConnection, done: Any, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Messages from ``ws`` until ``done(messages so far)``."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while not done(got):
        left = deadline - time.monotonic()
        assert left > 0, f"not seen in time; last: {got[-5:]}"
        got.append(orjson.loads(ws.recv(timeout=left)))
    return got


def of_type(msgs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The messages of one type."""
    return [m for m in msgs if m["type"] == kind]


def opportunity(i: int) -> ArbitrageOpportunity:
    """A two-hop opportunity with id ``i`` and exact big figures."""
    return ArbitrageOpportunity(
        opportunity_id=i, amount_in=BIG, expected_out=BIG + 7, expected_profit=-(BIG // 3),
        net_profit_usd_q8=123_456_789, chain_id=31337, detected_block=42, strategy_id=3,
        hop_fee_ppm=(3000, 500), pool_kinds=(0, 1), pools=(POOL, b"\x44" * 20),
        tokens=(WETH, USDC, WETH))


def test_snapshot_then_deltas_with_exact_contents(live):
    h, d = live
    with connect(d.ws_url) as early:
        first = recv_until(early, lambda g: any(m["type"] == "pnl" for m in g))
        assert first[0]["type"] == "hello" and first[0]["version"] == 1
        assert first[0]["namespace"] == h.cfg.ring_namespace
        assert [m["type"] for m in first[:7]] == ["hello", "nodes", "stop", "rings", "prices",
                                                  "process", "pnl"]
        opp_id = 9_000_000_000_000_000_001  # over 2**53
        h.feeder.publish([opportunity(opp_id)])
        h.feeder.publish([
            ExecutionResult(opportunity_id=opp_id, realized_profit=BIG // 5, amount_in=BIG,
                            realized_profit_usd_q8=250_000_000, gas_used=123_456, strategy_id=3,
                            status=int(ExecutionStatus.INCLUDED), block_number=43,
                            tx_hash=b"\xab" * 32, profit_token=WETH),
            ExecutionDetail(opportunity_id=opp_id, predicted_profit=-(BIG // 3))])
        h.feeder.publish([RiskAlert(alert_id=5, rule=7, severity=int(Severity.WARNING),
                                    observed=-BIG // 2**40, threshold=10, message="drawdown",
                                    timestamp_ns=1_700_000_000_000_000_001)])
        h.feeder.publish([CrossChainArbitrageSignal(
            opportunity_id=77, source_chain_id=31337, dest_chain_id=31338, amount_in=BIG,
            expected_out=BIG + 99, net_profit_usd_q8=-5, bridge_cost_usd_q8=300_000_000,
            bridge_latency_s=600, source_pool=POOL, dest_pool=POOL, token_in=WETH,
            token_out=USDC)])
        h.feeder.publish([ProcessEvent(program="executor", state=int(ProcessState.RUNNING),
                                       pid=4242, starts=2, timestamp_ns=5)])
        deltas = recv_until(early, lambda g: {"opportunity", "execution", "pnl", "alert",
                                              "crosschain", "process"}
                            <= {m["type"] for m in g})
    (opp,) = of_type(deltas, "opportunity")
    assert {k: opp[k] for k in ("id", "profit", "amount_in", "expected_out", "net_profit_usd_q8",
                                "chain_id", "hops", "profit_token", "strategy_id")} == {
        "id": str(opp_id), "profit": str(-(BIG // 3)), "amount_in": str(BIG),
        "expected_out": str(BIG + 7), "net_profit_usd_q8": "123456789", "chain_id": "31337",
        "hops": 2, "profit_token": "0x" + WETH.hex(), "strategy_id": 3}
    assert opp["net_profit_usd"] == pytest.approx(1.23456789)
    assert opp["pools"] == ["0x" + POOL.hex(), "0x" + "44" * 20]
    (ex,) = of_type(deltas, "execution")
    assert {k: ex[k] for k in ("opportunity_id", "status", "predicted_profit", "realized_profit",
                               "predicted_usd_q8", "realized_usd_q8", "gas_used", "tx")} == {
        "opportunity_id": str(opp_id), "status": "INCLUDED", "predicted_profit": str(-(BIG // 3)),
        "realized_profit": str(BIG // 5), "predicted_usd_q8": "123456789",
        "realized_usd_q8": "250000000", "gas_used": "123456", "tx": "0x" + "ab" * 32}
    assert ex["realized_usd"] == 2.5
    pnl = of_type(deltas, "pnl")[-1]
    assert len(pnl["points"]) == 1 and pnl["points"][0][1] == 2.5
    assert pnl["total_usd_q8"] == "250000000"
    (alert,) = [a for a in of_type(deltas, "alert") if a["message"] == "drawdown"]
    assert (alert["severity"], alert["observed"], alert["threshold"], alert["ts_ns"]) == (
        "WARNING", str(-BIG // 2**40), "10", 1_700_000_000_000_000_001)
    (cc,) = of_type(deltas, "crosschain")
    assert {k: cc[k] for k in ("id", "source_chain_id", "dest_chain_id", "amount_in",
                               "expected_out", "net_profit_usd_q8", "bridge_cost_usd_q8")} == {
        "id": "77", "source_chain_id": "31337", "dest_chain_id": "31338", "amount_in": str(BIG),
        "expected_out": str(BIG + 99), "net_profit_usd_q8": "-5",
        "bridge_cost_usd_q8": "300000000"}
    assert (cc["net_profit_usd"], cc["bridge_cost_usd"]) == (-5e-8, 3.0)
    (proc,) = of_type(deltas, "process")
    assert proc["programs"] == [{"program": "executor", "state": "RUNNING", "pid": 4242,
                                 "starts": 2, "ts_ns": 5}]
    # A client that comes later gets the same items in its snapshot, then deltas.
    with connect(d.ws_url) as late:
        snap = recv_until(late, lambda g: any(m["type"] == "crosschain" and m["id"] == "77"
                                              for m in g))
    assert opp in snap and ex in snap and alert in snap and cc in snap
    assert of_type(snap, "process")[0] == proc
    assert [p[1] for p in of_type(snap, "pnl")[0]["points"]] == [2.5]
    st = d.state()
    assert st["executions"][-1] == ex and st["opportunities"][-1] == opp
    assert st["mesh"]["missed"] == 0 and st["mesh"]["subscriber_errors"] == 0


def test_ring_prices_and_fill_from_a_real_ring(live):
    h, d = live
    ring = h.ring_feeder(RelayDomain.MARKET_DATA, "feeder")
    deadline = time.monotonic() + 60
    while not reader_ready(ring.name, d.proc.pid):
        assert time.monotonic() < deadline, "the dashboard never attached to the ring"
        time.sleep(0.05)
    end = BlockEnd(block_number=41, chain_id=31337)
    sync = PoolSync(reserve0=2 * 10**18, reserve1=6000 * 10**6, block_number=42, venue=300,
                    token0_decimals=18, token1_decimals=6, pool_address=POOL, token0_addr=WETH,
                    token1_addr=USDC)
    for seq, tlvs in enumerate(([end], [sync])):
        assert ring.write(encode_frame(tlvs, source=60, sequence=seq))
    st = d.wait_state(lambda s: any(p["pool"] == "0x" + POOL.hex() for p in s["prices"]))
    (row,) = [p for p in st["prices"] if p["pool"] == "0x" + POOL.hex()]
    assert {k: row[k] for k in ("price", "block", "chain_id", "venue")} == {
        "price": "3000", "block": "42", "chain_id": "31337", "venue": "uniswap_v2"}
    st = d.wait_state(lambda s: any(r["name"] == str(ring.name) and r["written"] == "2"
                                    for r in s["rings"]))
    (r,) = [r for r in st["rings"] if r["name"] == str(ring.name)]
    assert (r["domain"], r["writer"], r["capacity"], r["lost"]) == (
        "market-data", "feeder", 1 << 16, "0")
    assert 0 < r["fill_pct"] <= 100


def test_token_stop_reaches_risk_and_kill_flag_resume_clears(live):
    h, d = live
    before = d.metric("dashboard_errors_total", kind="bad_token")
    assert d.request("POST", "/api/stop")[0] == 401
    status, body = d.request("POST", "/api/stop", b"{}",
                             {"Authorization": "Bearer " + "0" * 64})
    assert (status, body["error"]) == (401, "bad_token")
    assert d.metric("dashboard_errors_total", kind="bad_token") == before + 2
    flag = KillFlag(h.cfg.kill_flag_name)
    try:
        assert not flag.is_set()
        auth = {"Authorization": f"Bearer {d.token}", "Content-Type": "application/json"}
        status, body = d.request("POST", "/api/stop", b'{"reason": "dashboard test"}', auth)
        assert status == 200 and body["ok"] is True, body
        stop_id = int(body["stop_id"])
        assert flag.is_set() and flag.stop_id == stop_id
        h.wait_for(Heartbeat, where=lambda hb: hb.stop_latched and hb.stop_id == stop_id,
                   timeout=30)
        st = d.wait_state(lambda s: s["stop"]["latched"])
        assert (st["stop"]["stop_id"], st["stop"]["reason"]) == (str(stop_id), "dashboard test")
        t_resume = time.time_ns()
        status, body = d.request("POST", "/api/resume", None, auth)
        assert status == 200 and body["ok"] is True, body
        assert not flag.is_set()
        h.wait_for(Heartbeat, where=lambda hb: not hb.stop_latched
                   and hb.timestamp_ns > t_resume, timeout=30)
        d.wait_state(lambda s: not s["stop"]["latched"])
    finally:
        flag.close()


def test_hostile_requests_get_typed_counted_errors(live):
    h, d = live
    auth = {"Authorization": f"Bearer {d.token}"}
    cases = [
        ("POST", "/api/stop", b"{not json", auth, 400, "bad_body"),
        ("POST", "/api/stop", b'["reason"]', auth, 400, "bad_body"),
        ("POST", "/api/stop", b'{"reason": 5}', auth, 400, "bad_body"),
        ("POST", "/api/stop", orjson.dumps({"reason": "x" * 65}), auth, 400, "bad_body"),
        ("POST", "/api/stop", b"{" + b" " * 100_000 + b"}", auth, 413, "body_too_large"),
        ("GET", "/api/stop", None, auth, 405, "bad_method"),
        ("DELETE", "/api/state", None, {}, 405, "bad_method"),
        ("POST", "/api/stop", b"{}", {**auth, "Origin": "http://evil.example"}, 403,
         "bad_origin"),
        ("POST", "/api/resume", b"{}", {**auth, "Sec-Fetch-Site": "cross-site"}, 403,
         "bad_origin"),
        ("GET", "/api/state", None, {"Host": f"evil.example:{d.port}"}, 403, "bad_origin"),
        ("GET", "/static/../token", None, {}, 404, "not_found"),
        ("GET", "/nowhere", None, {}, 404, "not_found"),
    ]
    before = {k: d.metric("dashboard_errors_total", kind=k) for *_, k in cases}
    flag = KillFlag(h.cfg.kill_flag_name)
    try:
        for method, path, body, headers, status, kind in cases:
            got, answer = d.request(method, path, body, headers)
            assert (got, answer["error"]) == (status, kind), (method, path, answer)
            assert answer["ok"] is False and answer["message"]
        assert not flag.is_set(), "a refused stop set the kill flag"
    finally:
        flag.close()
    for kind in set(before):
        n = sum(1 for *_, k in cases if k == kind)
        assert d.metric("dashboard_errors_total", kind=kind) == before[kind] + n, kind
    # a cross-origin websocket is refused too; the page's own origin is accepted
    with pytest.raises(Exception, match="403"):
        connect(d.ws_url, origin="http://evil.example").close()  # type: ignore[arg-type]
    with connect(d.ws_url, origin=f"http://127.0.0.1:{d.port}") as ok:  # type: ignore[arg-type]
        assert orjson.loads(ok.recv(timeout=30))["type"] == "hello"


def _stalled_client(d: LiveDashboard) -> socket.socket:
    """A websocket client that completes the handshake and then never reads."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((d.host, d.port))
    s.sendall(f"GET /ws HTTP/1.1\r\nHost: {d.host}:{d.port}\r\nUpgrade: websocket\r\n"
              "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
              "Sec-WebSocket-Version: 13\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return s


def test_a_stalled_client_is_dropped_and_a_reading_one_keeps_everything(live):
    h, d = live
    dropped = d.metric("dashboard_clients_dropped_total", reason="slow")
    mesh_before = d.state()["mesh"]
    with connect(d.ws_url) as fast:
        recv_until(fast, lambda g: any(m["type"] == "pnl" for m in g))
        slow = _stalled_client(d)
        try:
            seen: list[int] = []
            next_id, chunk = 1_000_000, 40
            while d.metric("dashboard_clients_dropped_total", reason="slow") == dropped:
                assert next_id < 1_000_000 + 20_000, "the stalled client was never dropped"
                ids = list(range(next_id, next_id + chunk))
                for i in ids:
                    h.feeder.publish([opportunity(i)])
                next_id += chunk
                got = recv_until(fast, lambda g, last=ids[-1]: any(
                    m["type"] == "opportunity" and m["id"] == str(last) for m in g))
                seen += [int(m["id"]) for m in of_type(got, "opportunity")
                         if 1_000_000 <= int(m["id"]) < 2_000_000]  # not the snapshot's history
            assert seen == list(range(1_000_000, next_id)), "the reading client lost messages"
            # the stalled client's connection is closed by the server
            slow.settimeout(60)
            with pytest.raises((ConnectionResetError, BrokenPipeError)):
                while slow.recv(1 << 16):
                    pass
                raise ConnectionResetError  # EOF: closed
        finally:
            slow.close()
        assert d.metric("dashboard_clients_dropped_total", reason="slow") == dropped + 1
        # the reading client is still served
        h.feeder.publish([opportunity(next_id)])
        recv_until(fast, lambda g: any(m["type"] == "opportunity" and m["id"] == str(next_id)
                                       for m in g))
    mesh = d.state()["mesh"]
    for counter in ("missed", "drops", "inbox_dropped", "subscriber_errors"):
        assert mesh[counter] == mesh_before[counter] == 0, (counter, mesh)
    assert mesh["reader_alive"] == 1
