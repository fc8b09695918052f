"""The process-events listener under a real supervisord: a program that keeps crashing goes
through BACKOFF to FATAL, a steady one runs; both reach the mesh (ProcessEvent), the Prometheus
endpoint and ``alphapulse status``; the listener dies with supervisord."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson
import zmq

from alphapulse.parent import parent_death_signal_preexec
from mesh.config import load_config
from mesh.protocol import ProcessEvent
from mesh.protocol.constants import ProcessState
from mesh.pubsub import Subscriber
from mesh.topics import prefix
from nodes.runtime.testing import free_port, short_dir

SUPERVISORD = Path(sys.executable).with_name("supervisord")
ROOT = Path(__file__).resolve().parents[3]
STEADY = "from alphapulse.parent import exit_with_parent; import time; exit_with_parent(); " \
         "time.sleep(600)"

CONF = """
[unix_http_server]
file={d}/supervisor.sock
[supervisord]
nodaemon=true
silent=true
logfile={d}/supervisord.log
pidfile={d}/supervisord.pid
childlogdir={d}
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[eventlistener:process-events]
command={py} -m nodes.runtime process-events --config {d}/mesh.toml
directory={root}
events=PROCESS_STATE
buffer_size=1024
priority=1
stdout_logfile=NONE
stderr_logfile={d}/process-events.log
[program:crasher]
command=/bin/sh -c "exit 3"
startsecs=10
startretries=1
autorestart=true
[program:steady]
command={py} -c "{steady}"
directory={root}
startsecs=1
"""


def _metrics(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            return r.read().decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_crashes_backoff_and_fatal_reach_the_mesh_metrics_and_status(unique_name):
    with short_dir() as d:
        port = free_port()
        (d / "mesh.toml").write_text(
            f'[mesh]\nrun_dir = "{d}"\ndefault_nodes = false\nring_namespace = "{unique_name}"\n'
            f"heartbeat_ms = 300\n[nodes.process-events]\nmetrics_port = {port}\n")
        (d / "supervisord.conf").write_text(CONF.format(d=d, py=sys.executable, root=ROOT,
                                                        steady=STEADY))
        cfg = load_config(d / "mesh.toml")
        ctx = zmq.Context()
        sub = Subscriber(ctx, cfg, ["process-events"], [prefix(4, ProcessEvent.TLV_TYPE)],
                         recover_types=())
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAPULSE_")}
        proc = subprocess.Popen([str(SUPERVISORD), "-n", "-c", str(d / "supervisord.conf")],
                                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True,
                                preexec_fn=parent_death_signal_preexec(signal.SIGKILL))
        latest: dict[str, ProcessEvent] = {}
        text = ""
        try:
            deadline = time.monotonic() + 180
            want = 'alphapulse_process_events_total{program="crasher",state="FATAL"} 1.0'
            while time.monotonic() < deadline and not (
                    latest.get("crasher") is not None
                    and latest["crasher"].state == ProcessState.FATAL
                    and latest.get("steady") is not None
                    and latest["steady"].state == ProcessState.RUNNING
                    and "process-events" in latest and want in text):
                d_ = sub.recv(500)
                if d_ is not None:
                    for ev in d_.frame.tlvs:
                        if isinstance(ev, ProcessEvent):
                            latest[ev.program] = ev
                text = _metrics(port)
            status = subprocess.run(
                [sys.executable, "-m", "mesh", "status", "--json", "--config",
                 str(d / "mesh.toml"), "--seconds", "1.5"],
                env=env, capture_output=True, timeout=60, check=False)
            listener = latest.get("process-events")
            os.kill(proc.pid, signal.SIGKILL)  # no chance to stop its children
            proc.wait(30)
            gone_by = time.monotonic() + 30
            while listener is not None and _alive(listener.pid) and time.monotonic() < gone_by:
                time.sleep(0.1)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
            sub.close()
            ctx.term()
            log = (d / "process-events.log").read_text(errors="replace")[-4000:] \
                if (d / "process-events.log").exists() else ""
        crasher = latest.get("crasher")
        assert crasher is not None and crasher.state == ProcessState.FATAL, (latest, log)
        # every start failed (STARTING -> BACKOFF: it exits long before startsecs, even on a
        # loaded host) until supervisord gave up (BACKOFF -> FATAL)
        assert (crasher.count, crasher.pid, crasher.from_state) == (1, 0, ProcessState.BACKOFF)
        assert crasher.starts >= 2
        assert latest["steady"].state == ProcessState.RUNNING and latest["steady"].pid > 0
        starts = float(crasher.starts)
        for line in (want,
                     f'alphapulse_process_events_total{{program="crasher",state="BACKOFF"}} {starts}',
                     f'alphapulse_process_events_total{{program="crasher",state="STARTING"}} {starts}',
                     'alphapulse_process_events_total{program="crasher",state="RUNNING"} 0.0',
                     'alphapulse_process_up{program="crasher"} 0.0',
                     'alphapulse_process_up{program="steady"} 1.0'):
            assert line in text, (line, [t for t in text.splitlines() if "crasher" in t],
                                  [t for t in log.splitlines() if "crasher" in t])
        assert status.returncode == 0, status.stderr
        rows = {r["node"]: r for r in map(orjson.loads, status.stdout.splitlines())}
        assert rows["crasher"]["state"] == "PROGRAM"
        assert rows["crasher"]["program"]["state"] == "FATAL"
        assert rows["crasher"]["program"]["restarts"] == crasher.starts - 1
        assert rows["process-events"]["state"] == "RUNNING"
        assert rows["process-events"]["program"]["state"] == "RUNNING"
        assert listener is not None and not _alive(listener.pid), "the listener outlived supervisord"
        assert not _alive(latest["steady"].pid)
