"""``alphapulse trace --live``: the trace of a result as it crosses the mesh; a timeout exits 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import zmq

from mesh.config import load_config
from mesh.protocol import decode_frame
from mesh.protocol.constants import SourceType
from mesh.pubsub import Publisher
from nodes.runtime.testing import short_dir, write_config
from tests.nodes.tracing.frames import OID, traced_trade

CLI = str(Path(sys.executable).parent / "alphapulse")


def _trace(config: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAPULSE_")}
    return subprocess.Popen([CLI, "trace", str(OID), "--live", "--config", str(config), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_live_waits_for_the_final_result_and_times_out_with_exit_2():
    submitted, included = (f for _ns, f in traced_trade()["execution"])
    with short_dir() as run_dir:
        path = write_config(Path(run_dir) / "mesh.toml", {"run_dir": str(run_dir), "default_nodes": False,
                                                          "metrics_base_port": 0}, {"executor": {}})
        ctx = zmq.Context()
        pub = Publisher(ctx, load_config(path, env={}), "executor", source=SourceType.EXECUTION_ENGINE)
        try:
            proc = _trace(path, "--json", "--timeout", "120")
            deadline = time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline:  # until it subscribed and heard
                pub.publish(list(decode_frame(submitted).tlvs))
                pub.publish(list(decode_frame(included).tlvs))
                time.sleep(0.2)
            out, err = proc.communicate(timeout=30)
            assert proc.returncode == 0, err
            trace = json.loads(out)
            assert trace["status"] == "INCLUDED" and [s["depth"] for s in trace["spans"]] == [0, 1, 2]
            assert trace["hops"][0]["hop"] == "collector received" and trace["hops"][-1]["hop"] == "result published"
            assert "ring written" not in {h["hop"] for h in trace["hops"]}  # rings are not on the mesh
            quiet = _trace(path, "--timeout", "1")
            _, err = quiet.communicate(timeout=120)
            assert quiet.returncode == 2 and f"opportunity {OID}: nothing within 1 s" in err, err
        finally:
            pub.close()
            ctx.term()
