"""``alphapulse run``: the main job. Every program of ``supervisord.conf`` (the devnet included)
under supervisord, until interrupted; then everything down.

Whatever ends it (Ctrl-C, SIGTERM, SIGHUP, the reader of its output going away as in
``make run | tee run.log``, ``--seconds``), it stops supervisord, which stops every program in
reverse start order (executors first, the devnet last; the devnet program brings down the devnet
it started). Signals that arrive meanwhile only ask for that same stop.

``--only`` and ``--no-devnet`` choose programs: the others get ``autostart=false`` in
``RUN_DIR/supervisord.d/run.conf``, which supervisord.conf includes. Programs a chosen one needs
(:data:`NEEDS`, and the devnet unless ``--no-devnet``) are started too; ``--no-devnet`` also
leaves out chain B's devnet (``devnet-b``, :mod:`nodes.runtime.cli.chains`).

supervisord runs in a session of its own with its output in ``RUN_DIR/logs/supervisord.out``
(never on our terminal or pipe), and receives SIGTERM from the kernel if this command dies
abruptly; programs stop when supervisord dies (:mod:`alphapulse.parent`). The parser is in
:mod:`nodes.runtime.cli`.
"""

from __future__ import annotations

import argparse
import configparser
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
from alphapulse.ports import free_port
from contracts import devnet
from contracts.anvil import port_is_free
from contracts.compile import require_npm
from mesh.config import load_config
from nodes.runtime.cli.chains import DEVNET_B, chain_b_env
from nodes.runtime.cli.paper import paper_exchange_env
from shm.kill_flag import KillFlag

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: Seconds supervisord has to stop every program (the devnet may be deploying: stopwaitsecs=60).
SUPERVISORD_STOP_SECONDS = 90.0
#: The program that holds the devnet (``alphapulse devnet serve``).
DEVNET = "devnet"
#: Programs each program needs running beside it (``--only`` starts them too): whatever obeys
#: stops needs ``risk``, whose heartbeat keeps its dead man's switch open; the CEX programs of
#: the offline deployment need the local exchange.
NEEDS: dict[str, tuple[str, ...]] = {
    "executor": ("risk",),
    "strategy": ("risk",),
    "cexdex": ("risk",),
    "cex-gateway": ("risk", "exchange"),
    "collector-cex": ("exchange",),
    "collector-evm-b": (DEVNET_B,),
    "crosschain": ("risk", "collector-evm", "collector-evm-b"),
}
#: The dashboard's port when free (``ALPHAPULSE_DASHBOARD_PORT`` wins; else a free port).
DASHBOARD_PORT = 8700
#: The override file ``run`` writes into RUN_DIR/supervisord.d (supervisord.conf includes it).
OVERRIDE = "run.conf"


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


def programs_of(conf: Path) -> list[str]:
    """The ``[program:NAME]`` names of a supervisord configuration file, in file order."""
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read(conf)
    except configparser.Error as exc:
        raise ConfigError(f"{conf}: {exc}") from None
    return [s.split(":", 1)[1] for s in parser.sections() if s.startswith("program:")]


def chosen_programs(known: list[str], only: tuple[str, ...] | None, with_devnet: bool) -> list[str]:
    """The programs to start: ``only`` (all when None) plus what they need (:data:`NEEDS`), the
    devnet unless ``with_devnet`` is false; in ``known``'s order.

    Raises
    ------
    ConfigError
        A name in ``only`` that is not a program of the configuration.
    """
    unknown = [n for n in only or () if n not in known]
    if unknown:
        raise ConfigError(f"--only: no program {', '.join(unknown)} in supervisord.conf "
                          f"(programs: {', '.join(known)})")
    wanted = set(known if only is None else only)
    frontier = list(wanted)
    while frontier:
        for need in NEEDS.get(frontier.pop(), ()):
            if need in known and need not in wanted:
                wanted.add(need)
                frontier.append(need)
    if with_devnet and DEVNET in known:
        wanted.add(DEVNET)
    else:
        wanted -= {DEVNET, DEVNET_B}
    return [n for n in known if n in wanted]


def write_override(run_dir: Path, off: list[str]) -> Path:
    """Write RUN_DIR/supervisord.d/run.conf: ``autostart=false`` for each program in ``off``
    (removed when there is none); returns its path."""
    path = run_dir / "supervisord.d" / OVERRIDE
    path.parent.mkdir(parents=True, exist_ok=True)
    if not off:
        path.unlink(missing_ok=True)
        return path
    body = ["; written by `alphapulse run` (--only, --no-devnet) on every start; do not edit"]
    for name in off:
        body += ["", f"[program:{name}]", "autostart=false"]
    path.write_text("\n".join(body) + "\n")
    return path


def dashboard_env(environ: dict[str, str]) -> dict[str, str]:
    """``ALPHAPULSE_DASHBOARD_PORT`` for the dashboard program: kept when set, else 8700 when
    free on loopback, else a free port."""
    port = environ.get("ALPHAPULSE_DASHBOARD_PORT") or (
        str(DASHBOARD_PORT) if port_is_free(DASHBOARD_PORT) else str(free_port()))
    return {"ALPHAPULSE_DASHBOARD_PORT": port}


def _devnet_preflight(paths: devnet.DevnetPaths, port: int, option: str = "--devnet-port") -> None:
    """Fail early with a clear message where the devnet program could only crash: npm packages
    missing, or its port taken by something that is not this devnet. A stale manifest (its anvil
    gone) is removed, so no program reads it before the devnet program replaces it."""
    require_npm(*devnet.NPM_PACKAGES)
    if devnet.status(paths) is None:
        devnet.down(paths)
        if not port_is_free(port):
            raise ConfigError(f"port {port} is already in use; choose another with {option}")


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
    env.update(dashboard_env(env))
    known = programs_of(conf)
    chosen = chosen_programs(known, args.only, not args.no_devnet)
    write_override(run_dir, [n for n in known if n not in chosen])
    paths = devnet.DevnetPaths.of(args.devnet_dir)
    port = args.devnet_port or devnet.DEFAULT_PORT
    env.update(ALPHAPULSE_DEVNET_DIR=str(paths.run_dir.resolve()),  # where programs find the
               ALPHAPULSE_DEVNET_PORT=str(port),                    # manifest
               ALPHAPULSE_DEVNET_KEEP="1" if args.keep_devnet else "0")
    env.update(chain_b_env(paths.run_dir.resolve(), port, cfg.ring_namespace, env))
    with_devnet = DEVNET in chosen
    if with_devnet:
        _devnet_preflight(paths, port)
    if DEVNET_B in chosen:
        _devnet_preflight(devnet.DevnetPaths.of(env["ALPHAPULSE_DEVNET_B_DIR"]),
                          int(env["ALPHAPULSE_DEVNET_B_PORT"]), "ALPHAPULSE_DEVNET_B_PORT")
    out, stop = Output(sys.stdout), Stop()
    previous = {s: signal.signal(s, stop.on_signal) for s in STOP_SIGNALS}
    proc: subprocess.Popen[bytes] | None = None
    try:
        proc = _start_supervisord(conf, env, run_dir / "logs")
        out.say(f"mesh: supervisord pid {proc.pid}, programs {', '.join(chosen)}; run dir "
                f"{run_dir}, logs {run_dir / 'logs'}; `alphapulse status` shows the live mesh, "
                "Ctrl-C stops it")
        if "dashboard" in chosen:
            out.say(f"dashboard: http://127.0.0.1:{env['ALPHAPULSE_DASHBOARD_PORT']}/ (program "
                    f"dashboard); stop/resume token in {run_dir / 'dashboard.token'}")
        if with_devnet:
            out.say(f"devnet: program {DEVNET}, anvil on port {port}, manifest {paths.manifest}")
        if DEVNET_B in chosen:
            out.say(f"devnet-b: program {DEVNET_B}, anvil on port "
                    f"{env['ALPHAPULSE_DEVNET_B_PORT']}, dir {env['ALPHAPULSE_DEVNET_B_DIR']}")
        _wait(proc, stop, out, args.seconds)
        out.say(f"mesh: stopping ({stop.reason})")
    finally:
        if proc is not None:
            _stop_supervisord(proc)
            _remove_idle_kill_flag(cfg.kill_flag_name, out)
            if with_devnet and not args.keep_devnet and not paths.manifest.exists():
                out.say("devnet: stopped")
        for s, handler in previous.items():
            signal.signal(s, handler)
    if proc is None or proc.returncode in (0, -signal.SIGTERM):
        return 0
    return proc.returncode
