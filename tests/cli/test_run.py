"""``alphapulse run`` (what ``make run`` calls) brings up the devnet and the nodes under supervisord,
and cleans up however it is ended: Ctrl-C, SIGTERM, SIGHUP, and Ctrl-C after the reader of its
output left; ``--only`` starts a part of the deployment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from contracts import devnet
from nodes.runtime.testing import free_port

RUN = [sys.executable, "-m", "mesh", "run"]


def _status(env: dict[str, str]) -> dict[str, dict]:
    """The rows of ``alphapulse status --json`` by node; none when it took too long (a loaded
    host while a dozen nodes start: the caller asks again)."""
    try:
        out = subprocess.run([sys.executable, "-m", "mesh", "status", "--json", "--seconds", "1"],
                             env=env, capture_output=True, timeout=90, check=False)
    except subprocess.TimeoutExpired:
        return {}
    rows = [orjson.loads(line) for line in out.stdout.splitlines() if line.strip()]
    return {r["node"]: r for r in rows}


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state first), or None if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def _descendants(root: int) -> dict[int, str]:
    """Every live process under ``root``, as pid -> start time (to tell a reused pid)."""
    parents: dict[int, int] = {}
    starts: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None:
            parents[int(entry)], starts[int(entry)] = int(fields[1]), fields[19]
    found, frontier = {}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in found:
                found[child] = starts[child]
                frontier.append(child)
    return found


def _alive(pid: int, start: str) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[19] == start and fields[0] != "Z"


def _wait_gone(procs: dict[int, str], timeout: float) -> dict[int, str]:
    """Wait until none of ``procs`` lives; return those still alive at the deadline."""
    deadline = time.monotonic() + timeout
    while (left := {p: s for p, s in procs.items() if _alive(p, s)}) and \
            time.monotonic() < deadline:
        time.sleep(0.1)
    return left


#: The nodes of the default deployment (the devnet, the exchange and the simulator are programs,
#: not nodes: no heartbeat).
DEFAULT_RUNNING = {"risk", "monitor", "collector-evm", "strategy", "portfolio", "executor",
                   "collector-cex", "cexdex", "cex-gateway", "archiver", "process-events",
                   "collector-evm-b", "crosschain"}


def _wait_running(env: dict[str, str], want: set[str] = DEFAULT_RUNNING,
                  timeout: float = 300) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    running: set[str] = set()
    status: dict = {}
    while time.monotonic() < deadline and running != want:
        status = _status(env)
        running = {n for n, r in status.items() if r.get("state") == "RUNNING"}
    assert running == want, status
    return status


def _anvil_pid(devnet_dir: Path, timeout: float = 300) -> int:
    """The devnet program's anvil, once it has deployed (nodes run before it has: they wait)."""
    manifest = devnet_dir / "manifest.json"
    deadline = time.monotonic() + timeout
    while not manifest.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    return int(orjson.loads(manifest.read_bytes())["anvil"]["pid"])


def _first_cex_dex_signal(env: dict[str, str], seconds: float = 150) -> dict:
    """The first CexDexSignal the deployment publishes, through `alphapulse tap`."""
    out = subprocess.run([sys.executable, "-m", "mesh", "tap", "--type", "CexDexSignal", "--count",
                          "1", "--seconds", str(seconds)], env=env, capture_output=True,
                         timeout=seconds + 30, check=False)
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    assert lines, f"no CexDexSignal within {seconds} s: {out.stderr.decode()[-500:]}"
    return orjson.loads(lines[0])


def _run_env(cli_env) -> dict[str, str]:
    env = dict(cli_env.env)
    env.pop("ALPHAPULSE_CONFIG")  # the default deployment
    return env


def _kill_all(procs: dict[int, str]) -> None:
    for pid, start in procs.items():
        if _alive(pid, start):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.chain
@pytest.mark.timeout(900)  # a dozen nodes compile while the devnet deploys: minutes when loaded
def test_run_starts_devnet_and_nodes_then_stops_everything(cli_env):
    env = _run_env(cli_env)
    devnet_dir = cli_env.root / "devnet"
    # --seconds: a bound in case the test dies; it interrupts the run itself well before
    proc = subprocess.Popen([*RUN, "--seconds", "400", "--devnet-port", str(free_port()),
                             "--devnet-dir", str(devnet_dir)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_running(env)
        anvil_pid = _anvil_pid(devnet_dir)
        os.kill(anvil_pid, 0)  # the chain is up
        signal_seen = _first_cex_dex_signal(env)
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=150)[0].decode()
    assert proc.returncode == 0, output
    assert "devnet: stopped" in output  # the devnet program brought down the devnet it started
    # the local exchange's books, through collector-cex, against the devnet's pools
    assert signal_seen["tlvs"][0]["type"] == "CexDexSignal", signal_seen
    assert int(signal_seen["tlvs"][0]["expected_profit"]) > 0
    assert _wait_gone({anvil_pid: _stat(anvil_pid)[19]} if _stat(anvil_pid) else {}, 10) == {}
    assert not (cli_env.run_dir / "supervisord.pid").exists()
    assert not Path(f"/dev/shm/{cli_env.namespace}-kill").exists()  # no stop set: nothing left


@pytest.mark.chain
@pytest.mark.timeout(900)
def test_ctrl_c_after_the_output_pipe_closed_leaves_no_process_behind(cli_env):
    """``make run 2>&1 | tee run.log`` then Ctrl-C: tee is gone before run has cleaned up."""
    env = _run_env(cli_env)
    devnet_dir = cli_env.root / "devnet"
    proc = subprocess.Popen([*RUN, "--devnet-port", str(free_port()), "--devnet-dir",
                             str(devnet_dir)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    started: dict[int, str] = {}
    try:
        _wait_running(env)
        started = _descendants(proc.pid)
        anvil_pid = _anvil_pid(devnet_dir)
        started[anvil_pid] = _stat(anvil_pid)[19]  # anvil runs in a session of its own
        assert len(started) >= 7  # supervisord, devnet, anvil, risk, monitor, ..., simulator
        proc.stdout.close()  # the reader (tee) is gone...
        os.killpg(proc.pid, signal.SIGINT)  # ...and Ctrl-C reaches the foreground group
        proc.wait(150)
        left = _wait_gone(started, timeout=30)
    finally:
        if proc.poll() is None:  # the test failed before the stop: take its devnet down too
            proc.kill()
            proc.wait()
            devnet.down(devnet.DevnetPaths.of(devnet_dir))
        _kill_all(started)
    assert left == {}, f"still running: {left}"
    assert not (devnet_dir / "manifest.json").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_terminate_or_hangup_stops_supervisord_and_nodes(sig, cli_env):
    """SIGTERM stops the whole deployment; SIGHUP a partial one (``--only executor``: risk
    comes along, the executor must not run without it; nothing else starts)."""
    env = _run_env(cli_env)
    only = sig == signal.SIGHUP
    argv = [*RUN, "--no-devnet", *(["--only", "executor"] if only else [])]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    started: dict[int, str] = {}
    try:
        status = _wait_running(env, {"risk", "executor", "process-events"} if only
                               else DEFAULT_RUNNING)
        started = _descendants(proc.pid)
        # supervisord, the listener and the nodes (the simulator waits for a devnet)
        assert len(started) >= (4 if only else 12)
        proc.send_signal(sig)
        output = proc.communicate(timeout=150)[0].decode()
        left = _wait_gone(started, timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _kill_all(started)
    assert proc.returncode == 0, output
    assert f"stopping ({signal.Signals(sig).name})" in output
    assert left == {}, f"still running: {left}"
    programs = {n for n, r in status.items() if "program" in r}
    if only:  # supervisord started nothing else: no other program ever changed state
        assert "programs risk, executor;" in output, output
        assert programs == {"risk", "executor", "process-events"}, status
        assert status["executor"]["program"]["state"] == "RUNNING"
    else:
        assert programs >= DEFAULT_RUNNING | {"exchange", "simulator"}, status
        assert "devnet" not in programs


def test_nodes_stop_when_supervisord_is_killed(cli_env):
    env = _run_env(cli_env)
    proc = subprocess.Popen([*RUN, "--no-devnet"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    started: dict[int, str] = {}
    try:
        _wait_running(env)
        started = _descendants(proc.pid)
        supervisord = next(p for p in started if _stat(p)[1] == str(proc.pid))
        os.kill(supervisord, signal.SIGKILL)  # no chance to stop its nodes
        left = _wait_gone(started, timeout=20)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=60)
        _kill_all(started)
    assert left == {}, f"orphans: {left}"
