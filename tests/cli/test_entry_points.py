"""One ``alphapulse`` entry point: subcommands come from each package (the import rules of every
layer are checked in tests/test_layers.py)."""

from __future__ import annotations

import subprocess
import sys

from mesh.cli import HELP_ORDER, build_parser, registered


def _subcommands(parser) -> dict:
    (action,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    return action.choices


def test_every_registered_entry_adds_the_command_it_is_named_for():
    names = [name for name, _ in registered()]
    assert set(names) >= {"run", "status", "nodes", "tap", "rings", "stop", "resume", "devnet",
                          "keys", "decode", "encode", "types"}
    assert set(_subcommands(build_parser())) == set(names)


def test_help_lists_commands_in_the_declared_order():
    out = subprocess.run([sys.executable, "-m", "mesh", "--help"], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    listed = [line.split()[0] for line in out.split("COMMAND\n", 1)[1].splitlines()
              if line.startswith("    ")]
    assert listed[:len(HELP_ORDER)] == list(HELP_ORDER)


def test_building_the_parser_imports_no_heavy_or_upper_layer_module():
    code = ("import sys; from mesh.cli import build_parser; build_parser(); "
            "print(' '.join(sorted(sys.modules)))")
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                timeout=60, check=True).stdout.split())
    assert not loaded & {"numba", "web3", "zmq", "contracts.devnet", "nodes.runtime.runtime"}


def test_a_named_command_loads_only_its_own_package():
    code = ("import sys; from mesh.cli import build_parser; "
            "p = build_parser(['types']); p.parse_args(['types']); "
            "print(' '.join(sorted(sys.modules)))")
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                timeout=60, check=True).stdout.split())
    assert not loaded & {"aiohttp", "nodes.portfolio", "cex.exchange", "nodes.dashboard"}, loaded
    everything = ("import sys; from mesh.cli import build_parser; build_parser(['--help']); "
                  "print(' '.join(sorted(sys.modules)))")
    loaded = set(subprocess.run([sys.executable, "-c", everything], capture_output=True,
                                text=True, timeout=60, check=True).stdout.split())
    assert {"nodes.portfolio", "cex.exchange"} <= loaded
