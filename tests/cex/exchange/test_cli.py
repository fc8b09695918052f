"""``alphapulse exchange serve``: bad input is one line and status 2; a server runs and stops."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from cex.exchange import KeysError
from cex.exchange.keys import load_keys
from tests.cex.exchange.paper_client import PaperClient

ALPHAPULSE = str(Path(sys.executable).with_name("alphapulse"))
SECRET = "s3cr3t-never-logged"


def alphapulse(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ALPHAPULSE, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("args", [
    ["--replay", "/nonexistent/script.jsonl"],
    ["--symbols", "ETHUSDT=WETH"],
    ["--symbols", ""],
    ["--noise-bps", "20000"],
    ["--taker-fee", "1.5"],
    ["--follow-devnet", "--symbols", "ETHUSDT"],
    ["--keys-file", "/nonexistent/keys.json"],
    ["--port", "70000"],
])
def test_bad_arguments_and_files_print_one_line_and_exit_2(args: list[str]) -> None:
    done = alphapulse("exchange", "serve", "--port", "0", *args)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_a_bad_script_line_names_the_line(tmp_path: Path) -> None:
    script = tmp_path / "s.jsonl"
    script.write_text('{"sleep_ms": 1}\n{"bogus": {}}\n')
    done = alphapulse("exchange", "serve", "--port", "0", "--replay", str(script))
    assert done.returncode == 2 and "s.jsonl:2: unknown step kind 'bogus'" in done.stderr


def test_key_file_must_be_private_and_well_formed(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps([{"api_key": "k1", "secret": SECRET}]))
    path.chmod(0o644)
    with pytest.raises(KeysError, match="wider than 0600") as exc:
        load_keys(path)
    path.chmod(0o600)
    assert load_keys(path) == [("k1", SECRET)]
    path.write_text(json.dumps([{"api_key": "k1"}]))
    with pytest.raises(KeysError) as exc:
        load_keys(path)
    assert SECRET not in str(exc.value)
    env = {"ALPHAPULSE_BINANCE_API_KEY": "k2", "ALPHAPULSE_BINANCE_API_SECRET": SECRET}
    assert load_keys(None, env) == [("k2", SECRET)]
    assert load_keys(None, {}) == []
    with pytest.raises(KeysError, match="ALPHAPULSE_BINANCE_API_SECRET"):
        load_keys(None, {"ALPHAPULSE_BINANCE_API_KEY": "k2"})


def test_serve_replays_trades_on_paper_keys_and_stops_on_sigterm(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps([{"api_key": "k1", "secret": SECRET}]))
    keys.chmod(0o600)
    script = tmp_path / "s.jsonl"
    script.write_text('{"rest": {"path": "/api/v3/depth", "symbol": "ETHUSDT", "json": '
                      '{"lastUpdateId": 5, "bids": [["1999", "2"]], "asks": [["2000", "3"]]}}}\n')
    proc = subprocess.Popen([ALPHAPULSE, "exchange", "serve", "--port", "0", "--replay", str(script),
                             "--keys-file", str(keys)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        assert match, line
        base = match.group(1)
        with urllib.request.urlopen(f"{base}/api/v3/depth?symbol=ETHUSDT", timeout=10) as r:
            assert json.loads(r.read())["lastUpdateId"] == 5
        status, answer = PaperClient(base, "k1", SECRET).order(side="BUY", type="MARKET", quantity="1")
        assert status == 200 and answer["status"] == "FILLED" and answer["fills"][0]["price"] == "2000.00000000"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, err
    assert SECRET not in line + out + err and "k1..." not in err
    assert "paper keys" in err


def test_serve_answers_within_a_deadline_when_started() -> None:
    # The command must not block on imports or the devnet before it binds: with
    # --follow-devnet and no devnet it still serves REST while it waits.
    proc = subprocess.Popen([ALPHAPULSE, "exchange", "serve", "--port", "0", "--follow-devnet",
                             "--run-dir", "/nonexistent/devnet"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        base = re.search(r"(http://127\.0\.0\.1:\d+)", line).group(1)  # type: ignore[union-attr]
        deadline = time.monotonic() + 10
        with urllib.request.urlopen(f"{base}/api/v3/time", timeout=10) as r:
            assert "serverTime" in json.loads(r.read())
        assert time.monotonic() < deadline
        assert proc.stderr is not None
        while "waiting for the devnet" not in proc.stderr.readline():
            pass
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0
