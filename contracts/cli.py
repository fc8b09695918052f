"""The subcommand ``contracts`` contributes to ``alphapulse``: ``devnet up|down|status|serve``.

``register`` is named in the ``alphapulse.commands`` entry-point group (pyproject.toml); the
actions, in :mod:`contracts.devnet_cli`, are imported only when they run.
"""

from __future__ import annotations

import argparse

from mesh.cli import args as a

#: anvil's default chain id (contracts.anvil.DEFAULT_CHAIN_ID; not imported: the parser stays light).
DEFAULT_CHAIN_ID = 31337


def chain_id(text: str) -> int:
    """A chain id, 1..2**53 - 1 (what wallets and JSON numbers carry exactly)."""
    try:
        value = int(text.strip(), 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a chain id must be a whole number, not {text!r}") from None
    if not 1 <= value < 2**53:
        raise argparse.ArgumentTypeError(f"a chain id must be 1..2**53-1, not {value}")
    return value


def block_time(text: str) -> int:
    """Whole seconds between blocks, 0..3600 (0: a block per transaction)."""
    try:
        value = int(text.strip(), 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a block time must be whole seconds, not {text!r}") from None
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"a block time must be 0..3600 seconds, not {value}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``devnet`` command and its ``up``/``down``/``status``/``serve`` actions."""
    parser = subparsers.add_parser(
        "devnet", help="local anvil chain with Uniswap V2/V3, Aave V3 and FlashArbitrage")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--run-dir", help="pid file, log and manifest directory (default run/devnet)")
    common.add_argument("--manifest", help="manifest path (default RUN_DIR/manifest.json)")
    p_up = actions.add_parser("up", parents=[common], help="start anvil and deploy (idempotent)")
    p_up.add_argument("--port", type=a.port, default=8545, help="JSON-RPC port (default 8545)")
    p_up.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    p_up.add_argument("--chain-id", type=chain_id, default=DEFAULT_CHAIN_ID,
                      help=f"chain id (default {DEFAULT_CHAIN_ID}; a second devnet: another one)")
    p_up.add_argument("--block-time", type=block_time, default=0,
                      help="after deploying, mine a block every N seconds (default 0: per transaction)")
    a.defaults(p_up, "contracts.devnet_cli:up", waits=True)
    p_down = actions.add_parser("down", parents=[common], help="stop the devnet")
    a.defaults(p_down, "contracts.devnet_cli:down")
    p_status = actions.add_parser("status", parents=[common],
                                  help="is the devnet up? (exit 1 if not)")
    p_status.add_argument("--json", action="store_true", help="print the whole manifest")
    a.defaults(p_status, "contracts.devnet_cli:status")
    p_serve = actions.add_parser(
        "serve", parents=[common],
        help="up, then hold it in the foreground until SIGTERM (supervisord's devnet program)")
    p_serve.add_argument("--port", type=a.port, default=8545, help="JSON-RPC port (default 8545)")
    p_serve.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    p_serve.add_argument("--chain-id", type=chain_id, default=DEFAULT_CHAIN_ID,
                         help=f"chain id (default {DEFAULT_CHAIN_ID}; a second devnet: another one)")
    p_serve.add_argument("--block-time", type=block_time, default=0,
                         help="after deploying, mine a block every N seconds (default 0: per transaction)")
    p_serve.add_argument("--keep", action="store_true",
                         help="leave a devnet this command started running when it stops")
    a.defaults(p_serve, "contracts.devnet_cli:serve", waits=True)
