"""Run ``alphapulse pnl`` as a user does (a subprocess) and read its answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

CLI = str(Path(sys.executable).parent / "alphapulse")


def run_pnl(*args: str) -> subprocess.CompletedProcess[str]:
    """``alphapulse pnl ARGS``; its exit status, stdout and stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAPULSE_")}
    return subprocess.run([CLI, "pnl", *args], capture_output=True, text=True, timeout=60,
                          env=env, check=False)


def pnl_json(db: Path) -> dict[str, Any]:
    """The report of ``alphapulse pnl --json --db DB``."""
    done = run_pnl("--json", "--db", str(db))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
