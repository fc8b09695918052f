"""Real protocol bytecode from the pinned npm packages, and library linking.

``@uniswap/v2-core`` ships ``build/<Name>.json`` (waffle format), ``@uniswap/v3-core`` and
``@aave/core-v3`` ship hardhat artifacts (``artifacts/contracts/**/<Name>.json`` with
``linkReferences`` for external libraries, which :func:`link` fills in).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from contracts.compile import NODE_MODULES, CompileError, load_artifact, require_npm

V2 = "@uniswap/v2-core"
V3 = "@uniswap/v3-core"
AAVE = "@aave/core-v3"


@cache
def _hardhat_index(package: str) -> dict[str, str]:
    root = NODE_MODULES / package / "artifacts" / "contracts"
    index: dict[str, str] = {}
    for path in root.rglob("*.json"):
        if not path.name.endswith(".dbg.json"):
            index.setdefault(path.stem, str(path))
    return index


@cache
def npm_artifact(package: str, name: str) -> dict[str, Any]:
    """``{"abi", "bytecode", "linkReferences"}`` of contract ``name`` from an npm package."""
    require_npm(package)
    if package == V2:
        raw = json.loads((NODE_MODULES / package / "build" / f"{name}.json").read_text())
        return {"abi": raw["abi"], "bytecode": "0x" + raw["evm"]["bytecode"]["object"],
                "linkReferences": {}}
    path = _hardhat_index(package).get(name)
    if path is None:
        raise CompileError(f"{package} has no artifact named {name}")
    raw = json.loads(Path(path).read_text())
    return {"abi": raw["abi"], "bytecode": raw["bytecode"], "linkReferences": raw["linkReferences"]}


def own_artifact(name: str) -> dict[str, Any]:
    """One of this repository's compiled contracts, as :func:`npm_artifact` shapes it."""
    art = load_artifact(name)
    return {"abi": art["abi"], "bytecode": art["bytecode"], "linkReferences": {}}


def link(artifact: dict[str, Any], libraries: dict[str, str]) -> str:
    """Bytecode of ``artifact`` with every library reference replaced by its address.

    ``libraries`` maps a library name (``BorrowLogic``) to its deployed address.
    """
    code = artifact["bytecode"][2:]  # placeholders (__$..$__) are not hex: splice the text
    for refs in artifact["linkReferences"].values():
        for lib, places in refs.items():
            if lib not in libraries:
                raise CompileError(f"library {lib} is not deployed yet")
            address = libraries[lib][2:].lower()
            for place in places:
                start = 2 * place["start"]
                code = code[:start] + address + code[start + 2 * place["length"]:]
    return "0x" + code


def libraries_of(artifact: dict[str, Any]) -> list[str]:
    """Names of the libraries ``artifact`` must be linked against."""
    return sorted({lib for refs in artifact["linkReferences"].values() for lib in refs})
