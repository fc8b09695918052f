"""The mesh command line against a running node: tap, status, stop/resume, nodes, keys."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import orjson

from mesh.protocol import ExecutionResult, Heartbeat
from nodes.runtime.testing import NodeHarness, short_dir
from shm.kill_flag import KillFlag

CLI = str(Path(sys.executable).parent / "alphapulse")


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the CLI; the timeout is a bound, not a speed check: `nodes` and `status` import
    every node kind (7 s on an idle machine, over 20 s under the full parallel suite)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAPULSE_")}
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_tap_prints_what_was_sent():
    with NodeHarness("risk") as h:
        proc = subprocess.Popen([CLI, "tap", "--config", str(h.config_path), "--type",
                                 "ExecutionResult", "--source", "feeder", "--count", "2"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            sent = []
            deadline = time.monotonic() + 15
            i = 0
            while proc.poll() is None and time.monotonic() < deadline:
                i += 1
                h.feeder.publish([ExecutionResult(opportunity_id=1000 + i, strategy_id=4)])
                sent.append(1000 + i)
                time.sleep(0.05)
            out, err = proc.communicate(timeout=5)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, err
        lines = [orjson.loads(x) for x in out.splitlines()]
        assert len(lines) == 2
        for line in lines:
            assert line["publisher"] == "feeder" and line["domain"] == "execution"
            assert line["tlvs"][0]["type"] == "ExecutionResult"
            assert int(line["tlvs"][0]["opportunity_id"]) in sent
            assert line["age_us"] >= 0
            assert line["run"] == h.feeder.run, "tap names the publisher's run"
        # Consecutive frames of one stream: the second follows the first without a gap.
        assert lines[1]["stream_seq"] == lines[0]["stream_seq"] + 1
        assert lines[1]["missed_before"] == 0


def test_status_shows_live_nodes_and_silent_ones():
    with NodeHarness("risk") as h:
        r = run("status", "--config", str(h.config_path), "--json", "--seconds", "0.6")
        assert r.returncode == 0, r.stderr
        rows = {row["node"]: row for row in map(orjson.loads, r.stdout.splitlines())}
        assert rows["risk"]["state"] == "RUNNING"
        assert rows["risk"]["pid"] == h.proc.pid
        assert 0 <= rows["risk"]["age_ms"] < 1000
        assert rows["risk"]["version_mismatch"] is False
        assert rows["feeder"]["state"] == "SILENT"
        table = run("status", "--config", str(h.config_path), "--seconds", "0.4")
        assert "risk" in table.stdout and "RUNNING" in table.stdout


def test_stop_and_resume_latch_on_risk_and_flip_the_kill_flag():
    with NodeHarness("risk") as h:
        r = run("stop", "--config", str(h.config_path), "--reason", "cli test")
        assert r.returncode == 0, r.stdout + r.stderr
        stop_id = int(r.stdout.split()[1].rstrip(":"))
        h.wait_for(Heartbeat, where=lambda hb: hb.stop_latched and hb.stop_id == stop_id)
        flag = KillFlag(h.cfg.kill_flag_name)
        try:
            assert flag.is_set() and flag.stop_id == stop_id
            t_resume = time.time_ns()
            r = run("resume", "--config", str(h.config_path))
            assert r.returncode == 0, r.stdout + r.stderr
            assert not flag.is_set()
        finally:
            flag.close()
        h.wait_for(Heartbeat, where=lambda hb: not hb.stop_latched
                   and hb.timestamp_ns > t_resume)


def test_stop_without_risk_node_sets_flag_and_says_mesh_not_informed():
    with short_dir() as d:
        cfg = d / "mesh.toml"
        cfg.write_text(f'[mesh]\nrun_dir = "{d}"\ndefault_nodes = false\n'
                       f'ring_namespace = "ap{d.name[3:]}"\n[nodes.risk]\n')
        r = run("stop", "--config", str(cfg), "--reason", "x", "--timeout", "0.3")
        assert r.returncode == 1 and "NOT informed" in r.stdout
        flag = KillFlag(f"/ap{d.name[3:]}-kill")
        assert flag.is_set()
        flag.unlink()


def test_nodes_prints_the_declared_graph():
    r = run("nodes", "--json")
    assert r.returncode == 0
    kinds = {c["kind"]: c for c in map(orjson.loads, r.stdout.splitlines())}
    assert "execution/ExecutionResult(50)" in kinds["risk"]["consumes"]
    assert "system/Heartbeat(113)" in kinds["monitor"]["produces"]


def test_keys_generate_owner_only_and_never_prints_the_secret():
    with short_dir() as d:
        r = run("keys", "generate", "alice", "--dir", str(d / "k"))
        assert r.returncode == 0, r.stderr
        secret = d / "k" / "alice.key_secret"
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        secret_line = next(x for x in secret.read_text().splitlines() if "secret-key" in x)
        assert secret_line.split('"')[1] not in r.stdout
        again = run("keys", "generate", "alice", "--dir", str(d / "k"))
        assert again.returncode == 2 and again.stderr.count("\n") == 1


def test_bad_arguments_exit_2_with_one_line():
    r = run("tap", "--type", "NoSuchType")
    assert r.returncode == 2 and "unknown message type" in r.stderr
    assert "Traceback" not in r.stderr
