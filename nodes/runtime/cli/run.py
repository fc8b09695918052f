"""``alphapulse run``: the main job. Devnet up, then every node under supervisord, then down.

Whatever ends it (Ctrl-C, SIGTERM, SIGHUP, the reader of its output going away as in
``make run | tee run.log``, ``--seconds``), it stops what it started, in order: supervisord
(which stops the nodes), then the devnet if this command brought it up. Signals that arrive
meanwhile, or while the devnet is being deployed, only ask for that same stop.

supervisord runs in a session of its own with its output in ``RUN_DIR/logs/supervisord.out``
(never on our terminal or pipe), and receives SIGTERM from the kernel if this command dies
abruptly; nodes stop when supervisord dies (:mod:`alphapulse.parent`). The parser is in
:mod:`nodes.runtime.cli`.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import IO

from alphapulse.errors import ConfigError
from alphapulse.parent import parent_death_signal_preexec
from contracts import devnet
from mesh.config import load_config
from nodes.runtime.cli.paper import paper_exchange_env
from shm.kill_flag import KillFlag

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: Seconds supervisord has to stop every node (each has stopwaitsecs=10) before it is killed.
SUPERVISORD_STOP_SECONDS = 45.0


class Stop:
    """Why the run should end (None while it should go on); set by signals and checks."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        """A signal handler: remember the first reason, never raise."""
        self.reason = self.reason or signal.Signals(signum).name


class Output:
    """Our stdout, which may be a pipe whose reader has gone: writes then go nowhere."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.closed = False
        try:
            fd = stream.fileno()
            mode = os.fstat(fd).st_mode
            self._poll: select.poll | None = None
            if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
                self._poll = select.poll()
                self._poll.register(fd, 0)  # POLLERR/POLLHUP are always reported
        except (OSError, ValueError):
            self._poll = None

    def say(self, text: str) -> None:
        """Print one line, unless nobody is reading any more."""
        if self.closed:
            return
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            self.closed = True

    def reader_gone(self) -> bool:
        """True once the other end of our output pipe or socket is closed."""
        if not self.closed and self._poll is not None:
            events = sum(ev for _, ev in self._poll.poll(0))
            self.closed = bool(events & (select.POLLERR | select.POLLHUP))
        return self.closed


def _devnet_up(args: argparse.Namespace, out: Output) -> tuple[devnet.DevnetPaths, bool]:
    paths = devnet.DevnetPaths.of(args.devnet_dir)
    kwargs = {"port": args.devnet_port} if args.devnet_port else {}
    manifest, created = devnet.up(paths, **kwargs)
    out.say(f"devnet: chain {manifest['chain_id']} at {manifest['rpc_url']}, "
            f"FlashArbitrage {manifest['flash_arbitrage']}, manifest {paths.manifest}")
    return paths, created


def _start_supervisord(conf: Path, env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    supervisord = Path(sys.executable).with_name("supervisord")
    with open(logs / "supervisord.out", "ab") as output:
        return subprocess.Popen(
            [str(supervisord), "-n", "-c", str(conf)], env=env, stdin=subprocess.DEVNULL,
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=parent_death_signal_preexec(signal.SIGTERM))


def _stop_supervisord(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(SUPERVISORD_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()  # its nodes get SIGTERM from the kernel as it dies
            proc.wait(5)


def _wait(proc: subprocess.Popen[bytes], stop: Stop, out: Output, seconds: float | None) -> None:
    deadline = None if seconds is None else time.monotonic() + seconds
    while stop.reason is None:
        if proc.poll() is not None:
            stop.reason = f"supervisord exited with status {proc.returncode}"
        elif deadline is not None and time.monotonic() >= deadline:
            stop.reason = f"{seconds} s elapsed"
        elif out.reader_gone():
            stop.reason = "output closed"
        else:
            time.sleep(0.1)


def _remove_idle_kill_flag(name: str, out: Output) -> None:
    """Unlink the nodes' kill flag segment unless a stop is set in it (that one must survive)."""
    flag = KillFlag(name)
    if flag.is_set():
        out.say(f"mesh: the kill flag {name} stays set (stop {flag.stop_id}); "
                "`alphapulse resume` clears it")
        flag.close()
    else:
        flag.unlink()


def run(args: argparse.Namespace) -> int:
    """Start everything, wait, stop everything; return 0, or supervisord's failing status."""
    conf = Path(args.supervisor_conf)
    if not conf.is_file():
        raise ConfigError(f"no supervisord configuration at {conf}")
    cfg = load_config(args.config)
    run_dir = Path(cfg.run_dir)
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, ALPHAPULSE_RUN_DIR=str(run_dir), ALPHAPULSE_PYTHON=sys.executable)
    if args.config:
        env["ALPHAPULSE_CONFIG"] = str(Path(args.config).resolve())
    env.update(paper_exchange_env(run_dir, env))
    out, stop = Output(sys.stdout), Stop()
    previous = {s: signal.signal(s, stop.on_signal) for s in STOP_SIGNALS}
    paths: devnet.DevnetPaths | None = None
    created = False
    proc: subprocess.Popen[bytes] | None = None
    try:
        if not args.no_devnet:
            paths, created = _devnet_up(args, out)
            env["ALPHAPULSE_DEVNET_DIR"] = str(paths.run_dir.resolve())  # where programs find the manifest
        if stop.reason is None:
            proc = _start_supervisord(conf, env, run_dir / "logs")
            out.say(f"mesh: supervisord pid {proc.pid}, run dir {run_dir}, logs "
                    f"{run_dir / 'logs'}; `alphapulse status` shows the live mesh, Ctrl-C stops it")
            _wait(proc, stop, out, args.seconds)
        out.say(f"mesh: stopping ({stop.reason})")
    finally:
        if proc is not None:
            _stop_supervisord(proc)
            _remove_idle_kill_flag(cfg.kill_flag_name, out)
        if created and paths is not None and not args.keep_devnet:
            devnet.down(paths)
            out.say("devnet: stopped")
        for s, handler in previous.items():
            signal.signal(s, handler)
    if proc is None or proc.returncode in (0, -signal.SIGTERM):
        return 0
    return proc.returncode
