"""What every package's subcommands share: argument types checked at the boundary, lazy commands.

Registration modules (``mesh.cli.commands``, ``contracts.cli``, ``nodes.runtime.cli``) import
only this module and :mod:`argparse`, so that ``alphapulse --help`` and an early Ctrl-C never
wait for numba, web3 or ZeroMQ; a command's own module is imported when it runs
(:func:`lazy`). Every type function here turns a bad value into an ``argparse`` error that
names the option and the value, which the command line prints as one line (exit status 2).
"""

from __future__ import annotations

import argparse
import importlib
import math
import re
from collections.abc import Callable
from typing import Any

Command = Callable[[argparse.Namespace], int]

#: Names of nodes, key pairs and publishers: also what may become a file name.
NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
#: The largest topic key (a 64-bit strategy id).
MAX_KEY = 2**64 - 1
#: Seconds options are bounded so that deadlines and poll timeouts stay in range.
MAX_SECONDS = 366 * 86400.0


class LazyCommand:
    """A command named ``"package.module:function"``, imported when loaded or first called.

    Registration stays cheap: ``alphapulse --help`` and usage errors import no command module.
    The command line calls :meth:`load` while Ctrl-C is deferred (see
    :mod:`mesh.cli.interrupts`), then calls the function.
    """

    def __init__(self, target: str) -> None:
        self.target = target

    def load(self) -> Command:
        """Import the command's module; return the function."""
        module, _, name = self.target.partition(":")
        func: Command = getattr(importlib.import_module(module), name)
        return func

    def __call__(self, args: argparse.Namespace) -> int:
        return self.load()(args)

    def __repr__(self) -> str:
        return f"LazyCommand({self.target!r})"


def lazy(target: str) -> LazyCommand:
    """A command that imports ``"package.module:function"`` when it runs, not when registered."""
    return LazyCommand(target)


def waits(args: argparse.Namespace) -> bool:
    """True when the parsed command would keep running (a service, a listener, a watch).

    A registration says so with ``set_defaults(waits=True)``, or with the name of the option
    that makes the command wait (``waits="watch"``).
    """
    flag = getattr(args, "waits", False)
    return bool(getattr(args, flag, None)) if isinstance(flag, str) else bool(flag)


def _bounded_int(text: str, lo: int, hi: int, what: str) -> int:
    try:
        value = int(text.strip(), 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be a whole number, not {text!r}") from None
    if not lo <= value <= hi:
        raise argparse.ArgumentTypeError(f"{what} must be {lo}..{hi}, not {value}")
    return value


def port(text: str) -> int:
    """A TCP port, 1..65535."""
    return _bounded_int(text, 1, 65535, "a port")


def count(text: str) -> int:
    """A count of things, 0..2**31-1 (0 usually means no limit)."""
    return _bounded_int(text, 0, 2**31 - 1, "a count")


def topic_key(text: str) -> int:
    """A strategy id (topic key), 0..2**64-1."""
    return _bounded_int(text, 0, MAX_KEY, "a strategy id")


def seconds(text: str) -> float:
    """A finite, non-negative number of seconds, at most a year."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seconds must be a number, not {text!r}") from None
    if not (math.isfinite(value) and 0 <= value <= MAX_SECONDS):
        raise argparse.ArgumentTypeError(f"seconds must be 0..{MAX_SECONDS:.0f}, not {text!r}")
    return value


def positive_seconds(text: str) -> float:
    """Like :func:`seconds`, but more than zero (an interval or a timeout)."""
    value = seconds(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"seconds must be more than 0, not {text!r}")
    return value


def name(text: str) -> str:
    """A node or key-pair name: lowercase letter, then letters, digits, ``_`` or ``-`` (<= 32).

    It may become a file name, so nothing that walks directories (``..``, ``/``) or hides a
    file (a leading ``.``) gets through.
    """
    if not NAME.match(text):
        raise argparse.ArgumentTypeError(f"a name must match {NAME.pattern}, not {text!r}")
    return text


def endpoint(text: str) -> str:
    """A ZeroMQ endpoint to connect to: ``tcp://HOST:PORT`` or ``ipc://PATH``."""
    scheme, sep, rest = text.partition("://")
    if sep and scheme == "ipc" and rest and "\0" not in rest:
        return text
    if sep and scheme == "tcp":
        host, colon, number = rest.rpartition(":")
        if colon and host and number.isdigit() and 1 <= int(number) <= 65535:
            return text
    raise argparse.ArgumentTypeError(f"an endpoint is tcp://HOST:PORT or ipc://PATH, not {text!r}")


def domain(text: str) -> int:
    """A relay domain by name (``market-data`` or ``market_data``) or number (1-4)."""
    from mesh.domains import parse_ring_domain

    try:
        return int(parse_ring_domain(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def message_type(text: str) -> int:
    """A registered message type by name (``PoolSync``) or number (``16``)."""
    from mesh.protocol.registry import BY_NAME, REGISTRY

    if text.isdigit() and int(text) in REGISTRY:
        return int(text)
    cls = BY_NAME.get(text)
    if cls is None:
        raise argparse.ArgumentTypeError(
            f"unknown message type {text!r} (`alphapulse types` lists them)")
    return int(cls.TLV_TYPE)


def add_config_arg(p: argparse.ArgumentParser) -> None:
    """``--config PATH`` (default ``$ALPHAPULSE_CONFIG``, else built-in defaults)."""
    p.add_argument("--config", help="mesh TOML file (default: $ALPHAPULSE_CONFIG or defaults)")


def defaults(p: argparse.ArgumentParser, func: str, **extra: Any) -> None:
    """Set the parser's command to the lazily imported ``func`` (see :func:`lazy`)."""
    p.set_defaults(func=lazy(func), **extra)
