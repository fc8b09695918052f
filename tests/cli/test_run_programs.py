"""Which programs ``alphapulse run`` starts, without starting them: ``--only`` is checked at the
boundary, pulls in what a program needs, and reaches supervisord's own configuration parser
through RUN_DIR/supervisord.d; the devnet program's anvil dies with it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from supervisor.options import ServerOptions

from nodes.runtime.cli import ROOT
from nodes.runtime.cli.run import chosen_programs, programs_of, write_override
from nodes.runtime.testing import free_port

CONF = ROOT / "supervisord.conf"
RUN = [sys.executable, "-m", "mesh", "run"]


def test_unknown_or_empty_program_names_exit_2_with_a_clear_message(cli_env):
    for only, says in (("collector-evm,nosuch", "no program nosuch in supervisord.conf"),
                       ("strategy,,risk", "a comma-separated list of program names")):
        r = subprocess.run([*RUN, "--only", only], env=cli_env.env, capture_output=True,
                           text=True, timeout=60, check=False)
        assert r.returncode == 2, r.stderr
        assert says in r.stderr and "Traceback" not in r.stderr
    assert not (cli_env.run_dir / "supervisord.pid").exists()


def test_only_brings_what_a_program_needs_and_the_devnet():
    known = programs_of(CONF)
    assert known[0] == "devnet"  # the lowest priority number: started first, stopped last
    assert chosen_programs(known, ("collector-evm", "strategy"), True) == [
        "devnet", "risk", "collector-evm", "strategy"]
    assert chosen_programs(known, ("cex-gateway",), False) == ["risk", "exchange", "cex-gateway"]
    assert chosen_programs(known, None, False) == [n for n in known
                                                   if n not in ("devnet", "devnet-b")]
    assert chosen_programs(known, None, True) == known
    assert chosen_programs(known, ("crosschain",), True) == [
        "devnet", "risk", "collector-evm", "devnet-b", "collector-evm-b", "crosschain"]


def _autostart(run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, bool]:
    """What supervisord itself reads from supervisord.conf and its includes."""
    for key, value in (("RUN_DIR", str(run_dir)), ("PYTHON", sys.executable),
                       ("EXCHANGE_PORT", "1"), ("PAPER_KEYS", str(tmp_path / "k.json")),
                       ("DEVNET_DIR", str(tmp_path / "devnet")), ("DEVNET_PORT", "1"),
                       ("DASHBOARD_PORT", "1"), ("DEVNET_B_DIR", str(tmp_path / "devnet-b")),
                       ("DEVNET_B_PORT", "2"), ("RING_NAMESPACE_B", "ap-b")):
        monkeypatch.setenv(f"ALPHAPULSE_{key}", value)
    opts = ServerOptions()
    opts.realize(args=["-c", str(CONF)])
    return {p.name: p.autostart for g in opts.process_group_configs for p in g.process_configs}


def test_the_override_file_is_what_supervisord_reads(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    (run_dir / "logs").mkdir(parents=True)
    known = programs_of(CONF)
    assert all(_autostart(run_dir, tmp_path, monkeypatch).values())
    chosen = chosen_programs(known, ("executor",), False)
    write_override(run_dir, [n for n in known if n not in chosen])
    autostart = _autostart(run_dir, tmp_path, monkeypatch)
    assert {n for n, on in autostart.items() if on} == {"risk", "executor", "process-events"}
    write_override(run_dir, [])  # the whole deployment again: the file goes
    assert not (run_dir / "supervisord.d" / "run.conf").exists()
    assert all(_autostart(run_dir, tmp_path, monkeypatch).values())


HOLDER = """
import sys, time
from contracts.anvil import start_anvil
proc = start_anvil(int(sys.argv[1]), die_with_parent=True)
print(proc.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.chain
def test_the_devnet_programs_anvil_dies_with_it():
    """``devnet serve`` starts anvil with ``die_with_parent``: a SIGKILLed holder leaves none."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(free_port())],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    anvil = 0
    try:
        anvil = int(holder.stdout.readline() or 0)
        assert anvil, "the holder did not start anvil"
        holder.send_signal(signal.SIGKILL)
        holder.wait(30)
        deadline = time.monotonic() + 30
        while (alive := _alive(anvil)) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert not alive, f"anvil {anvil} outlived the program holding it"


def test_start_order_and_log_rotation_of_the_deployment(tmp_path, monkeypatch):
    """The devnet starts first and stops last, risk before anything that trades; every log
    rotates."""
    run_dir = tmp_path / "run"
    (run_dir / "logs").mkdir(parents=True)
    write_override(run_dir, [])
    _autostart(run_dir, tmp_path, monkeypatch)  # sets the environment supervisord.conf reads
    opts = ServerOptions()
    opts.realize(args=["-c", str(CONF)])
    priority = {g.name: g.priority for g in opts.process_group_configs}
    assert min(priority, key=priority.__getitem__) == "devnet"
    assert priority["process-events"] < priority["risk"]
    for trader in ("executor", "cex-gateway", "strategy", "cexdex"):
        assert priority["risk"] < priority[trader]
    assert opts.logfile_maxbytes > 0 and opts.logfile_backups > 0
    for group in opts.process_group_configs:
        for p in group.process_configs:
            log = "stderr" if group.name == "process-events" else "stdout"
            assert getattr(p, f"{log}_logfile_maxbytes") > 0, p.name
            assert getattr(p, f"{log}_logfile_backups") > 0, p.name
