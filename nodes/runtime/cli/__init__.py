"""The subcommands ``nodes`` contributes to ``alphapulse``: run, status, nodes.

Each ``register_*`` function is named in the ``alphapulse.commands`` entry-point group
(pyproject.toml) and adds one command's parser; the command's module is imported only when it
runs. Only these subcommands (and tests) import from ``nodes``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mesh.cli import args as a

#: The repository (where the default ``supervisord.conf`` lives).
ROOT = Path(__file__).resolve().parents[3]

RUN_DOC = """Run the mesh: the devnet, then every node under supervisord.

1. ``alphapulse devnet up`` (idempotent) unless ``--no-devnet``;
2. supervisord with ``supervisord.conf``, ``ALPHAPULSE_RUN_DIR`` and ``ALPHAPULSE_PYTHON`` set,
   until Ctrl-C, SIGTERM, SIGHUP or ``--seconds`` elapse;
3. supervisord stops every node; the devnet is brought down again if this command started
   it (``--keep-devnet`` keeps it).

Nodes never outlive supervisord, and supervisord never outlives this command, however it ends
(a closed output pipe included). Logs are in RUN_DIR/logs.
"""


def register_run(subparsers: argparse._SubParsersAction) -> None:
    """``run``: the devnet and every node under supervisord, until interrupted."""
    p = subparsers.add_parser("run", help="run the mesh (devnet + nodes under supervisord)",
                              description=RUN_DOC,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_config_arg(p)
    p.add_argument("--supervisor-conf", default=str(ROOT / "supervisord.conf"))
    p.add_argument("--no-devnet", action="store_true", help="do not start the local chain")
    p.add_argument("--keep-devnet", action="store_true", help="leave the devnet running on exit")
    p.add_argument("--devnet-port", type=a.port, default=None, help="anvil port (default 8545)")
    p.add_argument("--devnet-dir", default=None, help="devnet run directory (default run/devnet)")
    p.add_argument("--seconds", type=a.positive_seconds, default=None,
                   help="stop after this long")
    a.defaults(p, "nodes.runtime.cli.run:run", waits=True)


def register_status(subparsers: argparse._SubParsersAction) -> None:
    """``status``: the live mesh from heartbeats."""
    p = subparsers.add_parser("status", help="live mesh status from heartbeats")
    a.add_config_arg(p)
    p.add_argument("--seconds", type=a.positive_seconds, default=None,
                   help="how long to listen (default: 3 heartbeat intervals)")
    p.add_argument("--json", action="store_true")
    a.defaults(p, "nodes.runtime.cli.status:cmd_status", waits=True)


def register_nodes(subparsers: argparse._SubParsersAction) -> None:
    """``nodes``: the declared node graph."""
    p = subparsers.add_parser("nodes", help="print the declared node graph (contracts)")
    p.add_argument("--json", action="store_true", help="one JSON object per node kind")
    a.defaults(p, "nodes.runtime.cli.graph:cmd_nodes")
