"""Every option of every subcommand, given nonsense, ends in 0 or 2 with one line, no traceback.

Commands and options are read from the parser itself, so a new command is covered without a
change here. Each case runs in-process with a private config, run dir and home, from a working
directory three levels inside the test's directory, so even ``../..`` stays inside it; after
each case no file may have appeared outside the places the command may write (the working
directory's tree, where relative paths land, the keys directory and the devnet directory), and
no hidden file anywhere. A command that would keep running (``run``, ``tap``, ``devnet up``...: those
registered with ``waits``) is only parsed: its arguments must fail at the boundary or parse.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesh.cli import build_parser, main
from mesh.cli.args import waits

TOKEN = "ap-escaped"
NASTY = (
    "", " ", "-1", "0", "1", "65536", "99999", "-99999999999999999999", str(2**64), "1e400",
    "nan", "inf", "-inf", "1e-300", f"../{TOKEN}", f"../../{TOKEN}", ".", "..", ".hidden",
    "a/b", "ü", "x" * 3000, "9999", "NoSuchType", "%s%n", "-", "tcp://", "ipc://",
    "MARKET_DATA", "risk",
)


@dataclass(frozen=True)
class Option:
    """One option (or positional) of one leaf command, and where it goes on the line."""

    path: tuple[str, ...]         # the command words: ("keys", "generate")
    level: int                    # how many command words come before the option
    flags: tuple[str, ...]        # option strings; () for a positional
    takes_value: bool
    required: tuple[tuple[str, ...], ...]  # fillers for the leaf's required arguments

    def argv(self, value: str | None) -> list[str]:
        """The command line with this option set to ``value``."""
        own = ([self.flags[0]] if self.flags else []) + ([value] if self.takes_value and
                                                          value is not None else [])
        if not self.flags:  # a positional replaces its filler
            fill = [w for f in self.required if f != ("<positional>",) for w in f]
            return [*self.path, *own, *fill]
        fill = [w for f in self.required for w in (("x",) if f == ("<positional>",) else f)]
        return [*self.path[:self.level], *own, *self.path[self.level:], *fill]


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = (),
            above: tuple[tuple[int, argparse.Action], ...] = ()) -> Iterator[Option]:
    sub = _subparsers(parser)
    own = tuple((len(path), a) for a in parser._actions
                if not isinstance(a, argparse._SubParsersAction))
    if sub is not None:
        for name, child in sub.choices.items():
            yield from _leaves(child, (*path, name), above + own)
        return
    if not path:
        return
    actions = above + own
    required = tuple(
        ("<positional>",) if not a.option_strings else (a.option_strings[0], "x")
        for _, a in actions
        if (not a.option_strings and a.nargs in (None, 1)) or (a.option_strings and a.required)
    )
    for level, a in actions:
        yield Option(path, level, tuple(a.option_strings), a.nargs != 0, required)


OPTIONS = list(_leaves(build_parser()))


@pytest.fixture
def sandbox(cli_env, monkeypatch):
    """Run in-process inside ``cli_env``: cwd three levels down, home and stdin private."""
    cwd = cli_env.root / "w" / "x" / "y"
    cwd.mkdir(parents=True)
    (cli_env.root / "home").mkdir()
    for key, value in cli_env.env.items():
        if key.startswith("ALPHAPULSE_"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("ALPHAPULSE_NAMESPACE", cli_env.namespace)
    monkeypatch.setenv("HOME", str(cli_env.root / "home"))
    monkeypatch.delenv("ALPHAPULSE_DEBUG", raising=False)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    monkeypatch.chdir(cwd)
    return cli_env


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if not p.is_dir()}


def _escaped(root: Path) -> list[Path]:
    """Files named after TOKEN outside the sandbox: where a traversal would have landed."""
    repo = Path(__file__).resolve().parents[2]
    places = [root.parent, repo, repo / "run", Path.home()]
    return [p for place in places if place.is_dir() for p in place.glob(f"*{TOKEN}*")]


def _run_case(argv: list[str], root: Path) -> tuple[int | None, str]:
    """Parse ``argv``; run it unless it would keep running. (status or None, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    before = _files(root)
    status: int | None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exc:
            status = int(exc.code or 0)
        else:
            if waits(args):
                status = None
            else:
                try:
                    status = main(argv)
                except SystemExit as exc:
                    status = int(exc.code or 0)
    text = err.getvalue()
    new = _files(root) - before
    allowed = (root / "w", root / "run" / "keys", root / "devnet")
    assert "Traceback" not in text, (argv, text)
    assert not _escaped(root), (argv, _escaped(root))
    assert not [p for p in new if p.name.startswith(".")], (argv, new)
    assert not [p for p in new if not any(p.is_relative_to(d) for d in allowed)], (argv, new)
    if status is not None:
        assert status in (0, 1, 2), (argv, status, text)
        if status == 2:
            assert text.count("\n") == 1 and text.endswith("\n"), (argv, text)
        if status == 1:  # a documented "no" (devnet status), never an internal error
            assert text == "", (argv, text)
    return status, text


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: " ".join((*o.path, *o.flags[:1])))
def test_nonsense_values_exit_0_or_2_with_one_line_and_stay_in_place(option, sandbox):
    values: tuple[str | None, ...] = NASTY if option.takes_value else (None,)
    for value in values:
        _run_case(option.argv(value), sandbox.root)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(option=st.sampled_from(OPTIONS),
       value=st.one_of(st.text(max_size=40), st.integers().map(str),
                       st.floats(allow_nan=True).map(repr)).filter(lambda v: "\0" not in v))
def test_random_values_exit_0_or_2_with_one_line(option, value, sandbox):
    _run_case(option.argv(value if option.takes_value else None), sandbox.root)


def test_the_reported_cases_fail_at_the_boundary_naming_the_value(sandbox):
    keys = sandbox.run_dir / "keys"
    for argv, needle in ((["devnet", "up", "--port", "99999"], "99999"),
                         (["keys", "generate", f"../{TOKEN}"], TOKEN),
                         (["keys", "generate", ""], "''"),
                         (["tap", "--type", "9999"], "unknown message type '9999'")):
        status, text = _run_case(argv, sandbox.root)
        assert status == 2 and needle in text, (argv, text)
    assert not keys.exists() or not any(keys.iterdir())


def test_the_generated_cases_reach_every_command():
    assert {o.path[0] for o in OPTIONS} >= {"run", "tap", "devnet", "keys", "decode", "rings"}
    assert ("keys", "generate") in {o.path for o in OPTIONS}
