"""``alphapulse run``: the main job. Devnet up, then every node under supervisord.

1. ``alphapulse devnet up`` (idempotent) unless ``--no-devnet``;
2. supervisord in the foreground with ``supervisord.conf``, ``ALPHAPULSE_RUN_DIR`` and
   ``ALPHAPULSE_PYTHON`` set, until Ctrl-C, SIGTERM or ``--seconds`` elapse;
3. the devnet is brought down again if this command started it (``--keep-devnet`` keeps it).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from alphapulse.errors import ConfigError
from mesh.config import load_config

if TYPE_CHECKING:
    from contracts.devnet import DevnetPaths

def _devnet_up(args: argparse.Namespace) -> tuple[DevnetPaths, bool]:
    from contracts import devnet

    paths = devnet.DevnetPaths.of(args.devnet_dir)
    kwargs = {"port": args.devnet_port} if args.devnet_port else {}
    manifest, created = devnet.up(paths, **kwargs)
    print(f"devnet: chain {manifest['chain_id']} at {manifest['rpc_url']}, "
          f"FlashArbitrage {manifest['flash_arbitrage']}, manifest {paths.manifest}", flush=True)
    return paths, created


def run(args: argparse.Namespace) -> int:
    """Start everything, wait, stop everything; return supervisord's exit status."""
    conf = Path(args.supervisor_conf)
    if not conf.is_file():
        raise ConfigError(f"no supervisord configuration at {conf}")
    cfg = load_config(args.config)
    run_dir = Path(cfg.run_dir)
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, ALPHAPULSE_RUN_DIR=str(run_dir), ALPHAPULSE_PYTHON=sys.executable)
    if args.config:
        env["ALPHAPULSE_CONFIG"] = str(Path(args.config).resolve())
    paths: DevnetPaths | None = None
    created = False
    if not args.no_devnet:
        paths, created = _devnet_up(args)
    supervisord = Path(sys.executable).with_name("supervisord")
    proc = subprocess.Popen([str(supervisord), "-n", "-c", str(conf)], env=env)
    print(f"mesh: supervisord pid {proc.pid}, run dir {run_dir}, logs {run_dir / 'logs'}; "
          "`alphapulse status` shows the live mesh, Ctrl-C stops it", flush=True)
    stop = False

    def _request_stop(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    previous = {s: signal.signal(s, _request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    try:
        while proc.poll() is None and not stop:
            if deadline is not None and time.monotonic() >= deadline:
                break
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for s, handler in previous.items():
            signal.signal(s, handler)
        if created and paths is not None and not args.keep_devnet:
            from contracts import devnet

            devnet.down(paths)
            print("devnet: stopped", flush=True)
    return 0 if proc.returncode in (0, -signal.SIGTERM) else proc.returncode
