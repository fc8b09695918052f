"""The ``alphapulse`` command line: one entry point, subcommands contributed by each package.

Every package registers its subcommands in the ``alphapulse.commands`` entry-point group
(pyproject.toml): the entry's name is the command, its value a ``register(subparsers)`` function
that adds that command's parser with ``func`` set to a callable taking the parsed arguments
and returning an exit status. So this module imports nothing above ``mesh``: ``contracts``
and ``nodes`` contribute ``devnet`` and ``run``/``status``/``nodes`` themselves.

Promises, for every command:

* errors from the project's error tree, bad arguments and unreadable files print one line on
  stderr and exit with status 2; nothing prints a traceback unless ``ALPHAPULSE_DEBUG=1``;
* Ctrl-C at any moment, while the command's modules are still being imported included, exits
  with status 130 and no traceback;
* a reader that goes away (``| head``) ends the command quietly.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from mesh.cli.interrupts import DeferredInterrupts

if TYPE_CHECKING:
    import argparse

#: Entry-point group in which packages register subcommands.
GROUP = "alphapulse.commands"
#: The order in which ``alphapulse --help`` lists commands; others follow alphabetically.
HELP_ORDER: tuple[str, ...] = (
    "run", "status", "nodes", "tap", "rings", "stop", "resume", "devnet", "keys",
    "decode", "encode", "types",
)

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
EXIT_INTERNAL = 1


def _parser_class() -> type[argparse.ArgumentParser]:
    import argparse

    class Parser(argparse.ArgumentParser):
        """Usage errors print one line (``PROG: error: ...``) and exit 2."""

        def error(self, message: str) -> NoReturn:
            self.exit(EXIT_BAD_INPUT,
                      f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")

    return Parser


@functools.cache
def registered() -> tuple[tuple[str, Any], ...]:
    """``(name, entry point)`` for every registered subcommand, in ``--help`` order."""
    from importlib.metadata import entry_points

    found = {ep.name: ep for ep in entry_points(group=GROUP)}
    order = {name: i for i, name in enumerate(HELP_ORDER)}
    return tuple(sorted(found.items(),
                        key=lambda item: (order.get(item[0], len(order)), item[0])))


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The top-level parser: with ``argv`` naming a registered command first, that command's
    parser only (loading every package's commands costs most of a second of imports: the
    local exchange's aiohttp, the portfolio's web3 helpers); otherwise every subcommand, so
    ``--help`` lists them all and a mistyped command is answered with the choices."""
    parser = _parser_class()(prog="alphapulse", description="AlphaPulse arbitrage mesh tools.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    commands = registered()
    if argv:
        chosen = [(name, ep) for name, ep in commands if name == argv[0]]
        commands = tuple(chosen) or commands
    for _, ep in commands:
        ep.load()(subparsers)
    return parser


def one_line(text: str) -> str:
    """``text`` with control characters (newlines from a hostile path...) escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _say(command: str, message: str) -> None:
    try:
        sys.stderr.write(f"alphapulse {command}: error: {one_line(message)}\n")
        sys.stderr.flush()
    except OSError:
        pass  # nobody is listening any more


def _load(func: Any) -> Any:
    load = getattr(func, "load", None)
    return func if load is None else load()


def _run(argv: Sequence[str] | None) -> int:
    with DeferredInterrupts():
        from alphapulse.errors import AlphaPulseError

        argv = sys.argv[1:] if argv is None else list(argv)
        args = build_parser(argv).parse_args(argv)
        try:
            func = _load(args.func)
        except Exception as exc:  # noqa: BLE001 -- a bug: one line, not a traceback
            return _internal_error(args.command, exc)
    try:
        return int(func(args) or 0)
    except AlphaPulseError as exc:
        _say(args.command, str(exc))
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # The reader of our output went away (``| head``): not an error of ours. Later writes
        # (and the flush at exit) go nowhere.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 0
    except OSError as exc:  # a file or socket the user named
        if os.environ.get("ALPHAPULSE_DEBUG") == "1":
            raise
        _say(args.command, f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
        return EXIT_BAD_INPUT
    except Exception as exc:  # noqa: BLE001 -- a bug: one line, not a traceback
        return _internal_error(args.command, exc)


def _internal_error(command: str, exc: Exception) -> int:
    if os.environ.get("ALPHAPULSE_DEBUG") == "1":
        raise exc
    _say(command, f"internal error {type(exc).__name__}: {exc} (ALPHAPULSE_DEBUG=1 shows where)")
    return EXIT_INTERNAL


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status.

    Loading (the subcommands' parsers, the command's module and its numba, ZeroMQ or web3
    imports) runs with Ctrl-C deferred, so an interrupt there ends like one during the
    command: status 130, no traceback. This module imports nothing slow before that. Called
    as the process's entry point (``argv`` None), an interrupted command exits at once after
    flushing its output, so no half-loaded extension runs its finalisers, and a Ctrl-C after
    the command has finished is ignored.
    """
    try:
        try:
            return _run(argv)
        finally:  # done (also by SystemExit, as argparse's --help and errors end): a Ctrl-C
            if argv is None:  # now must not turn the exit into a death by signal
                signal.signal(signal.SIGINT, signal.SIG_IGN)
    except KeyboardInterrupt:
        if argv is not None:
            return EXIT_INTERRUPTED
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed, or nobody reading
            stream.flush()
    os._exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    sys.exit(main())
