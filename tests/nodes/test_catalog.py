"""Every catalogued node kind is deployable: default endpoints, a supervisord program, a contract."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from mesh.config import DEFAULT_NODES
from nodes.runtime.catalog import NODE_KINDS, load_node

ROOT = Path(__file__).resolve().parents[2]


def _programs() -> dict[str, str]:
    parser = configparser.RawConfigParser()
    parser.read(ROOT / "supervisord.conf")
    return {s.split(":", 1)[1]: parser.get(s, "command") for s in parser.sections()
            if s.startswith(("program:", "eventlistener:"))}


#: Kinds configured per host (docs/bridge.md): no default endpoints, no default program.
PER_HOST = {"bridge-out", "bridge-in"}


@pytest.mark.parametrize("kind", sorted(NODE_KINDS))
def test_catalogued_kind_has_default_endpoints_a_program_and_a_matching_contract(kind):
    if kind in PER_HOST:
        assert load_node(kind).CONTRACT.kind == kind
        return
    assert kind in DEFAULT_NODES
    command = _programs().get(kind)
    assert command is not None, f"supervisord.conf has no [program:{kind}]"
    assert command.split()[1:4] == ["-m", "nodes.runtime", kind]
    assert load_node(kind).CONTRACT.kind == kind
