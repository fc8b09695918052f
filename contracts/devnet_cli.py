"""``alphapulse devnet up|down|status|serve``: the local chain with real Uniswap V2/V3 and Aave V3.

The parsers (which check the port and the rest at the boundary) are in :mod:`contracts.cli`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from types import FrameType

from alphapulse.parent import exit_with_parent
from contracts import devnet
from contracts.anvil import anvil_alive


def _paths(args: argparse.Namespace) -> devnet.DevnetPaths:
    return devnet.DevnetPaths.of(args.run_dir, args.manifest)


def up(args: argparse.Namespace) -> int:
    """Start anvil and deploy the market, unless the devnet is already up."""
    paths = _paths(args)
    manifest, created = devnet.up(paths, port=args.port, host=args.host, chain_id=args.chain_id,
                                  block_time=args.block_time)
    verb = "started" if created else "already up"
    print(f"devnet {verb}: chain {manifest['chain_id']} at {manifest['rpc_url']} "
          f"(anvil pid {manifest['anvil']['pid']}), FlashArbitrage {manifest['flash_arbitrage']}, "
          f"manifest {paths.manifest}")
    return 0


def down(args: argparse.Namespace) -> int:
    """Stop the devnet's anvil and remove its pid file and manifest."""
    stopped = devnet.down(_paths(args))
    print("devnet stopped" if stopped else "devnet was not running")
    return 0


def status(args: argparse.Namespace) -> int:
    """Print the live devnet (or its whole manifest); exit 1 when none is running."""
    manifest = devnet.status(_paths(args))
    if manifest is None:
        print("devnet is not running")
        return 1
    if args.json:
        print(json.dumps(manifest, indent=1, sort_keys=True))
    else:
        print(f"devnet up: chain {manifest['chain_id']} at {manifest['rpc_url']} "
              f"(anvil pid {manifest['anvil']['pid']})")
    return 0


#: Seconds between checks that the held devnet's anvil still runs.
SERVE_POLL_SECONDS = 1.0


def serve(args: argparse.Namespace) -> int:
    """Hold the devnet in the foreground (supervisord's ``devnet`` program).

    Brings the devnet up (or finds it up), then waits for SIGTERM, SIGINT or the death of its
    parent; a devnet this command started is then brought down again, unless ``--keep`` (or
    ``ALPHAPULSE_DEVNET_KEEP=1``), and its anvil dies with this process either way unless kept.
    Exits 1 when the anvil it holds goes away, so that supervisord starts it again.
    """
    exit_with_parent()
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, on_signal)
    paths = _paths(args)
    keep = args.keep or os.environ.get("ALPHAPULSE_DEVNET_KEEP") == "1"
    manifest, created = devnet.up(paths, port=args.port, host=args.host, die_with_parent=not keep,
                                  chain_id=args.chain_id, block_time=args.block_time)
    pid = int(manifest["anvil"]["pid"])
    print(f"devnet {'started' if created else 'already up'}: chain {manifest['chain_id']} at "
          f"{manifest['rpc_url']} (anvil pid {pid}), manifest {paths.manifest}", flush=True)
    status = 0
    try:
        while not stop.wait(SERVE_POLL_SECONDS):
            if not anvil_alive(pid):
                sys.stderr.write(f"devnet: anvil {pid} is gone\n")
                status = 1
                break
    finally:
        if created and not keep:
            devnet.down(paths)
            print("devnet: stopped", flush=True)
    return status
