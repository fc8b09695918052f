"""Every ring kernel against its plain-Python reference path (NUMBA_DISABLE_JIT=1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.shm import scenario

ROOT = Path(__file__).resolve().parents[2]
SEEDS = (7, 11)


def _run_reference() -> list[dict]:
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    code = ("import json; from tests.shm import scenario; "
            f"print(json.dumps([scenario.run(s) for s in {SEEDS!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    return json.loads(proc.stdout)


def test_compiled_kernels_match_python_reference_byte_for_byte() -> None:
    compiled = [scenario.run(s) for s in SEEDS]
    reference = _run_reference()
    assert compiled == reference
    for result in compiled:
        # the scenario must exercise laps, losses and a writer restart to mean anything
        assert any(r[4] > 0 for r in result["readers"]), "no reader lost frames"
        assert any(r[11] > 0 for r in result["readers"]), "no reader was lapped"
        assert result["writer"][9] == 2, "writer restart did not bump the epoch"
