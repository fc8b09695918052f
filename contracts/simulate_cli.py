"""The subcommand ``simulate`` (``alphapulse simulate``): a moving market on the devnet.

``register`` is named in the ``alphapulse.commands`` entry-point group (pyproject.toml); the
command itself, in :mod:`contracts.simulator.cli`, is imported only when it runs.
"""

from __future__ import annotations

import argparse
import math

from mesh.cli import args as a

DOC = """Simulate a market on the devnet: noise traders and injected dislocations.

Random swaps on every V2 pair and V3 pool (sizes heavy-tailed, directions leaning back to the
deployment's prices), V3 and V2 mints and burns, and at --inject-rate one large swap that
opens arbitrage cycles; each injection's cycles, with their exact best input and profit, are
appended as one JSON line to the ground-truth file. anvil mines a block every --block-time
seconds so that several logs share a block. The same --seed on the same devnet state sends
the same actions. Stops on Ctrl-C, SIGTERM, --seconds or --blocks, and switches automine back on.
"""


def _rate(limit: float, unit: str):  # type: ignore[no-untyped-def]
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"a rate must be a number of {unit}, not {text!r}") from None
        if not (math.isfinite(value) and 0 <= value <= limit):
            raise argparse.ArgumentTypeError(f"a rate must be 0..{limit:g} {unit}, not {text!r}")
        return value

    return parse


def _block_time(text: str) -> float:
    value = a.positive_seconds(text)
    if not 0.05 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"a block time must be 0.05..3600 seconds, not {text!r}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``simulate`` command."""
    p = subparsers.add_parser("simulate", help="noise traders and injected arbitrage on the devnet",
                              description=DOC, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--devnet-dir", help="devnet run directory (default $ALPHAPULSE_DEVNET_DIR or run/devnet)")
    p.add_argument("--manifest", help="devnet manifest (default DEVNET_DIR/manifest.json)")
    p.add_argument("--out", help="ground-truth JSON lines (default $ALPHAPULSE_RUN_DIR/ground_truth.jsonl, "
                                 "else DEVNET_DIR/ground_truth.jsonl)")
    p.add_argument("--seed", type=a.count, default=1, help="random seed (default 1)")
    p.add_argument("--rate", type=_rate(1000, "actions per second"), default=8.0,
                   help="noise actions per second (default 8)")
    p.add_argument("--inject-rate", type=_rate(600, "injections per minute"), default=6.0,
                   help="injected dislocations per minute (default 6)")
    p.add_argument("--block-time", type=_block_time, default=1.0, help="seconds per block (default 1)")
    p.add_argument("--seconds", type=a.positive_seconds, default=None, help="stop after this long")
    p.add_argument("--blocks", type=a.count, default=0, help="stop after this many blocks (0: no limit)")
    p.add_argument("--json", action="store_true", help="progress as one JSON object per line")
    p.add_argument("--wait-devnet", type=a.positive_seconds, default=None, metavar="SECONDS",
                   help="wait this long for the devnet to come up (supervisord starts the devnet "
                        "program beside this one)")
    a.defaults(p, "contracts.simulator.cli:simulate", waits=True)
