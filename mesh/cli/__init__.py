"""The ``alphapulse`` command line.

Each subcommand lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a callable taking the
parsed arguments and returning an exit status. Errors from the project's error tree and bad
arguments print one clear line on stderr and exit with status 2; nothing prints a traceback
unless ``ALPHAPULSE_DEBUG=1`` is set.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from alphapulse.errors import AlphaPulseError

#: Subcommand modules, in the order ``alphapulse --help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "mesh.cli.codec",
    "mesh.cli.rings",
    "mesh.cli.devnet",
    "mesh.cli.mesh_commands",
    "mesh.cli.run",
)

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose usage errors exit 2 with one line, as argparse does."""


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available subcommand registered."""
    parser = _Parser(prog="alphapulse", description="AlphaPulse arbitrage mesh tools.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # a subcommand not built yet
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = args.func(args)
    except AlphaPulseError as exc:
        print(f"alphapulse {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader of our stdout went away (``| head``): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        if os.environ.get("ALPHAPULSE_DEBUG") == "1":
            raise
        print(f"alphapulse {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
