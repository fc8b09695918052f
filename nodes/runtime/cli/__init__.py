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

RUN_DOC = """Run the mesh: every program of supervisord.conf, the devnet included, under supervisord.

1. supervisord with ``supervisord.conf``, ``ALPHAPULSE_RUN_DIR``, ``ALPHAPULSE_PYTHON`` and the
   devnet's directory and port set, until Ctrl-C, SIGTERM, SIGHUP or ``--seconds`` elapse; it
   starts the programs in priority order: the devnet (``alphapulse devnet serve``), the
   process-event listener, risk, ..., executors last;
2. supervisord stops every program in reverse order; the devnet program brings the devnet down
   again if it started it (``--keep-devnet`` keeps it).

``--only collector-evm,strategy`` starts only those programs, plus what they need (risk for
whatever obeys stops, the local exchange for the CEX programs) and the devnet; ``--no-devnet``
leaves the devnet out (use one that is already up). Programs never outlive supervisord, and
supervisord never outlives this command, however it ends (a closed output pipe included).
Logs are in RUN_DIR/logs; docs/deployment.md is the runbook.
"""


def program_list(text: str) -> tuple[str, ...]:
    """``--only``: a comma-separated list of supervisord program names."""
    names = tuple(n.strip() for n in text.split(","))
    bad = [n for n in names if not n or not n.replace("-", "").replace("_", "").isalnum()]
    if bad:
        raise argparse.ArgumentTypeError(f"a comma-separated list of program names, not {text!r}")
    return names


def register_run(subparsers: argparse._SubParsersAction) -> None:
    """``run``: the devnet and every node under supervisord, until interrupted."""
    p = subparsers.add_parser("run", help="run the mesh (devnet and nodes under supervisord)",
                              description=RUN_DOC,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_config_arg(p)
    p.add_argument("--supervisor-conf", default=str(ROOT / "supervisord.conf"))
    p.add_argument("--only", type=program_list, default=None, metavar="PROGRAM[,PROGRAM...]",
                   help="start only these programs (and what they need, and the devnet)")
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
