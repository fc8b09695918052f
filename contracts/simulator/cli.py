"""``alphapulse simulate``: run :class:`~contracts.simulator.runner.Simulator` until stopped.

Progress goes to stdout once per block (``--json``: one object per line with ``blocks``,
``swaps``, ``mints``, ``burns``, ``injections``, ``truths``, ``errors``), error lines to stderr.
SIGINT and SIGTERM end the run cleanly (in-flight injections get their ground truth, automine is
switched back on) with status 0. The parser is in :mod:`contracts.simulate_cli`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from alphapulse.parent import exit_with_parent
from contracts import devnet
from contracts.client import Chain
from contracts.simulator.runner import Counts, Options, Simulator


def _out_path(args: argparse.Namespace, paths: devnet.DevnetPaths) -> Path:
    if args.out:
        return Path(args.out)
    run_dir = os.environ.get("ALPHAPULSE_RUN_DIR")
    return Path(run_dir) / "ground_truth.jsonl" if run_dir else paths.run_dir / "ground_truth.jsonl"


def _say(text: str, stream=sys.stdout) -> None:  # type: ignore[no-untyped-def]
    stream.write(text + "\n")
    stream.flush()


def simulate(args: argparse.Namespace) -> int:
    """Run the simulator against the devnet of the manifest; 0 when stopped as asked."""
    paths = devnet.DevnetPaths.of(args.devnet_dir, args.manifest)
    if args.wait_devnet is not None:  # a supervised program: it must not outlive supervisord
        exit_with_parent()
        devnet.wait_up(paths, args.wait_devnet)
    manifest = devnet.load_manifest(paths.manifest)
    out = _out_path(args, paths)
    options = Options(out=out, seed=args.seed, rate=args.rate, inject_rate=args.inject_rate,
                      block_time=args.block_time, seconds=args.seconds, blocks=args.blocks or None)

    def progress(counts: Counts) -> None:
        c = counts.as_dict()
        if args.json:
            _say(json.dumps(c, separators=(",", ":")))
        else:
            _say(f"simulate: {c['blocks']} blocks, {c['swaps']} swaps, {c['mints']} mints, {c['burns']} burns, "
                 f"{c['injections']} injections ({c['truths']} ground truths), {c['errors']} errors")

    sim = Simulator(Chain(manifest["rpc_url"]), manifest, options, progress=progress,
                    log=lambda line: _say(f"simulate: {line}", sys.stderr))
    sim.parent_pid = os.getppid()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        sim.stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        if not args.json:
            _say(f"simulate: chain {manifest['chain_id']} at {manifest['rpc_url']}, seed {args.seed}, "
                 f"ground truth in {out}")
        sim.run()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0
