"""``alphapulse dashboard`` on the command line: bad arguments and unusable ports or token
files exit 2 with one line; SIGTERM ends a serving dashboard with status 0."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from nodes.runtime.testing import private_mesh, short_dir
from tests.dashboard.server_support import _URL

CLI = str(Path(sys.executable).parent / "alphapulse")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI with no ALPHAPULSE_* from the caller's environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAPULSE_")}
    return subprocess.run([CLI, "dashboard", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_bad_arguments_exit_2_with_one_line(capsys):
    """In process (the parser is the same; a process per case costs seconds of imports)."""
    from mesh.cli import main

    for args in (["--port", "70000"], ["--port", "http"], ["--host", "example.com"],
                 ["--client-queue", "3"], ["--risk-node", "Bad Name"], ["--bogus"],
                 ["--allow-host", "a b:80"], ["--ring-namespace", "a.b"]):
        with pytest.raises(SystemExit) as exit_:
            main(["dashboard", *args])
        out, err = capsys.readouterr()
        assert exit_.value.code == 2, args
        assert out == "" and len(err.strip().splitlines()) == 1 and "error:" in err, (args, err)


def test_a_bad_argument_in_a_real_process_exits_2_with_one_line():
    r = run("--port", "70000")
    assert r.returncode == 2 and r.stdout == "", r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_unusable_port_token_or_node_exit_2_with_one_line():
    with short_dir() as d:
        cfg, _ = private_mesh(d, ["risk"])
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            r = run("--config", str(cfg), "--port", str(taken.getsockname()[1]))
        assert r.returncode == 2 and "cannot listen" in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
        r = run("--config", str(cfg), "--risk-node", "nosuch")
        assert r.returncode == 2 and "nosuch" in r.stderr and "Traceback" not in r.stderr
        token = d / "dashboard.token"
        assert (token.stat().st_mode & 0o777) == 0o600  # made by the first run
        token.chmod(0o644)
        r = run("--config", str(cfg))
        assert r.returncode == 2 and "chmod 600" in r.stderr, r.stderr


def test_sigterm_ends_a_serving_dashboard_with_status_0():
    with short_dir() as d:
        cfg, _ = private_mesh(d, ["risk"])
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAPULSE_")}
        proc = subprocess.Popen([CLI, "dashboard", "--config", str(cfg), "--port", "0"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert _URL.match(line), line
            assert proc.stdout.readline() == f"dashboard: token in {d}/dashboard.token\n".encode()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 0, proc.stderr.read() if proc.stderr else ""
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
