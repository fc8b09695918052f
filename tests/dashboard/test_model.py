"""The dashboard's pure parts: prices, the bounded state, the token file, the fan-out bound."""

from __future__ import annotations

import asyncio
import os
from fractions import Fraction

import pytest

from alphapulse.errors import ConfigError
from mesh.protocol import EmergencyStop, Heartbeat
from mesh.protocol.constants import NodeState
from nodes.dashboard.prices import price_text, v2_price, v3_price
from nodes.dashboard.state import DashboardState
from nodes.dashboard.token import load_or_create, token_matches


def test_prices_are_decimal_adjusted_token1_per_token0():
    assert price_text(v2_price(2 * 10**18, 6000 * 10**6, 18, 6)) == "3000"
    assert price_text(v3_price(1 << 96, 18, 18)) == "1"
    assert price_text(v3_price(2 << 96, 6, 18)) == "0.000000000004"
    assert price_text(Fraction(1, 3)) == "0.3333333333"
    assert price_text(Fraction(3_000_000_000_001, 10**9)) == "3000"  # 10 digits, no zeros


def test_a_rings_first_block_end_names_the_chain_of_pools_seen_before():
    from mesh.protocol import BlockEnd, PoolSync
    from nodes.dashboard.prices import PriceBook

    book = PriceBook({"0x" + "11" * 20: "WETH"})
    sync = PoolSync(reserve0=10**18, reserve1=2 * 10**18, block_number=5, venue=300,
                    token0_decimals=18, token1_decimals=18, pool_address=b"\x33" * 20,
                    token0_addr=b"\x11" * 20, token1_addr=b"\x22" * 20)
    book.apply("collector-evm", sync)
    book.apply("ns-b/collector-evm-b", sync._replace(reserve1=3 * 10**18))
    rows = book.take()
    assert rows is not None and [(r["chain_id"], r["price"], r["pair"]) for r in rows] == [
        (None, "2", "WETH/0x222222"), (None, "3", "WETH/0x222222")]
    assert book.take() is None
    book.apply("collector-evm", BlockEnd(chain_id=31337, block_number=5))
    rows = book.take()
    assert rows is not None and [r["chain_id"] for r in rows] == ["31337", None]
    assert v2_price(0, 5, 18, 18) is None and v3_price(0, 18, 18) is None


def test_streams_and_pnl_are_bounded_and_stop_follows_its_owner():
    s = DashboardState("ns", "run", ("risk",), kept=5)
    for i in range(12):
        s.apply("opportunity", {"type": "opportunity", "id": str(i)})
        out = s.apply("execution", {"type": "execution", "realized_usd_q8": "100000000",
                                    "ts_ns": 10**9 * i})
        assert out[-1]["points"] == [[1000 * i, float(i + 1)]]
    assert [o["id"] for o in s.streams["opportunity"]] == [str(i) for i in range(7, 12)]
    assert s.pnl_total_q8 == 12 * 10**8
    assert s.nodes_msg()["nodes"] == [{"name": "risk", "state": "MISSING", "age_ms": None,
                                       "seq": None, "pid": None}]
    stop = EmergencyStop(stop_id=9, latched=1, reason="x", timestamp_ns=1)
    beat = Heartbeat(node="risk", state=int(NodeState.RUNNING), interval_ms=100, pid=7,
                     stop_latched=1, stop_id=9)
    assert s.apply("heartbeat", ("risk", 3, beat, stop))[0]["stop_id"] == "9"
    assert s.apply("heartbeat", ("risk", 4, beat, stop)) == []  # no change, no message
    other = Heartbeat(node="executor", state=int(NodeState.HALTED), interval_ms=100)
    assert s.apply("heartbeat", ("executor", 1, other, None)) == []  # not the stop's owner
    released = s.apply("heartbeat", ("risk", 5, beat._replace(stop_latched=0), None))
    assert released[0]["latched"] is False
    nodes = {n["name"]: n for n in s.nodes_msg()["nodes"]}
    assert (nodes["risk"]["state"], nodes["risk"]["seq"], nodes["executor"]["state"]) == (
        "RUNNING", 5, "HALTED")


def test_token_file_is_made_owner_only_and_compared_exactly(tmp_path):
    token = load_or_create(tmp_path)
    path = tmp_path / "dashboard.token"
    assert (path.stat().st_mode & 0o777) == 0o600 and len(token) == 64
    assert load_or_create(tmp_path) == token
    assert token_matches(token, f"Bearer {token}")
    assert not token_matches(token, f"Bearer {token[:-1]}")
    assert not token_matches(token, token) and not token_matches(token, None)
    os.chmod(path, 0o640)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_or_create(tmp_path)


def test_a_full_client_queue_drops_that_client_only():
    from nodes.dashboard.fanout import Hub
    from nodes.dashboard.metrics import DashboardMetrics

    class FakeWs:
        def __init__(self) -> None:
            self.sent: list[str] = []
            self.closed = False

        async def send_str(self, text: str) -> None:
            self.sent.append(text)

        async def close(self, **_: object) -> None:
            self.closed = True

    class StuckWs(FakeWs):
        async def send_str(self, text: str) -> None:
            await asyncio.Event().wait()  # a client whose socket never drains

    async def main() -> tuple[FakeWs, Hub]:
        hub = Hub(DashboardMetrics(), queue_size=16)
        ok, stuck = FakeWs(), StuckWs()
        hub.add(ok, None, [{"type": "hello"}])  # type: ignore[arg-type]
        hub.add(stuck, None, [])  # type: ignore[arg-type]
        for i in range(40):
            hub.broadcast([{"type": "opportunity", "id": str(i)}])
            await asyncio.sleep(0)
        await asyncio.sleep(1.5)
        return ok, hub

    ok, hub = asyncio.run(main())
    assert len(ok.sent) == 41 and len(hub.clients) == 1
    assert hub.metrics.dropped.labels("slow")._value.get() == 1


def test_host_names_accepted_for_loopback_wildcard_and_other_binds():
    from nodes.dashboard.server import allowed_hosts

    assert allowed_hosts("127.0.0.1", 8700) == {"127.0.0.1:8700", "localhost:8700",
                                                "[::1]:8700"}
    assert allowed_hosts("0.0.0.0", 1, ("box.lan",)) == {"0.0.0.0:1", "127.0.0.1:1",
                                                          "localhost:1", "[::1]:1", "box.lan:1"}
    assert allowed_hosts("10.0.0.5", 2) == {"10.0.0.5:2"}
    assert allowed_hosts("::1", 3) == {"[::1]:3", "127.0.0.1:3", "localhost:3"}


def test_a_program_that_crashes_or_gives_up_is_an_alert():
    from mesh.protocol import ProcessEvent
    from mesh.protocol.constants import ProcessState
    from nodes.dashboard.messages import process_alert

    fatal = ProcessEvent(program="executor", state=int(ProcessState.FATAL), starts=4,
                         timestamp_ns=9)
    assert process_alert(fatal) == {"type": "alert", "severity": "CRITICAL", "kind": "process",
                                    "message": "executor FATAL (starts 4)",
                                    "program": "executor", "ts_ns": 9}
    exited = fatal._replace(state=int(ProcessState.EXITED))
    assert process_alert(exited)["severity"] == "WARNING"  # type: ignore[index]
    assert process_alert(exited._replace(expected=1)) is None
    assert process_alert(fatal._replace(state=int(ProcessState.RUNNING))) is None
