"""``alphapulse devnet up|down|status``: the local chain with real Uniswap V2/V3 and Aave V3.

The parsers (which check the port and the rest at the boundary) are in :mod:`contracts.cli`.
"""

from __future__ import annotations

import argparse
import json

from contracts import devnet


def _paths(args: argparse.Namespace) -> devnet.DevnetPaths:
    return devnet.DevnetPaths.of(args.run_dir, args.manifest)


def up(args: argparse.Namespace) -> int:
    """Start anvil and deploy the market, unless the devnet is already up."""
    paths = _paths(args)
    manifest, created = devnet.up(paths, port=args.port, host=args.host)
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
