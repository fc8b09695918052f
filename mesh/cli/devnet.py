"""``alphapulse devnet up|down|status``: the local chain with real Uniswap V2/V3 and Aave V3."""

from __future__ import annotations

import argparse
import json

from alphapulse.errors import ChainError


def _paths(args: argparse.Namespace):
    from contracts.devnet import DevnetPaths

    return DevnetPaths.of(args.run_dir, args.manifest)


def _up(args: argparse.Namespace) -> int:
    from contracts import devnet

    paths = _paths(args)
    manifest, created = devnet.up(paths, port=args.port, host=args.host)
    verb = "started" if created else "already up"
    print(f"devnet {verb}: chain {manifest['chain_id']} at {manifest['rpc_url']} "
          f"(anvil pid {manifest['anvil']['pid']}), FlashArbitrage {manifest['flash_arbitrage']}, "
          f"manifest {paths.manifest}")
    return 0


def _down(args: argparse.Namespace) -> int:
    from contracts import devnet

    stopped = devnet.down(_paths(args))
    print("devnet stopped" if stopped else "devnet was not running")
    return 0


def _status(args: argparse.Namespace) -> int:
    from contracts import devnet

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


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``devnet`` command and its ``up``/``down``/``status`` actions."""
    parser = subparsers.add_parser("devnet", help="local anvil chain with Uniswap V2/V3, Aave V3 and FlashArbitrage")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--run-dir", help="pid file, log and manifest directory (default run/devnet)")
    common.add_argument("--manifest", help="manifest path (default RUN_DIR/manifest.json)")
    p_up = actions.add_parser("up", parents=[common], help="start anvil and deploy (idempotent)")
    p_up.add_argument("--port", type=int, default=8545, help="JSON-RPC port (default 8545)")
    p_up.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    p_up.set_defaults(func=_guard(_up))
    actions.add_parser("down", parents=[common], help="stop the devnet").set_defaults(func=_guard(_down))
    p_status = actions.add_parser("status", parents=[common], help="is the devnet up? (exit 1 if not)")
    p_status.add_argument("--json", action="store_true", help="print the whole manifest")
    p_status.set_defaults(func=_guard(_status))


def _guard(func):
    """Let ChainError reach the CLI's one-line handler; it is already an AlphaPulseError."""

    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except ChainError:
            raise
        except ValueError as exc:  # bad option values that argparse let through
            raise ChainError(str(exc)) from exc

    run.__doc__ = func.__doc__
    return run
