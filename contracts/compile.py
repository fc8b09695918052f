"""Compile ``contracts/src`` with the pinned solc-js and read or write the committed artifacts.

The compiler is the npm package ``solc`` pinned in ``contracts/package.json`` (solc-js, the
official Emscripten build), driven through its standard-JSON interface by a few lines of node.
Settings are fixed in :data:`SETTINGS`, so the same sources always give the same bytecode; a test
recompiles and compares with ``contracts/artifacts/`` (what is deployed is what is reviewed).

``python -m contracts.compile`` rewrites the artifacts; ``--check`` exits 1 if they differ.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from alphapulse.errors import ChainError

ROOT = Path(__file__).resolve().parent
SRC = ROOT / "src"
ARTIFACTS = ROOT / "artifacts"
NODE_MODULES = ROOT / "node_modules"

#: Pinned compiler version (must match contracts/package.json).
SOLC_VERSION = "0.8.37"

#: Fixed compiler settings. Cancun gives transient storage (EIP-1153) and is supported by anvil.
#: A high ``runs`` tells the optimizer the code is deployed once and called often: it favours
#: cheaper execution over smaller bytecode.
SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 1_000_000},
    "evmVersion": "cancun",
    "viaIR": True,
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}

_NODE_SCRIPT = (
    "const solc=require('solc');let i='';process.stdin.setEncoding('utf8');"
    "process.stdin.on('data',d=>i+=d).on('end',()=>{process.stdout.write("
    "JSON.stringify({version:solc.version(),output:JSON.parse(solc.compile(i))}))});"
)


class CompileError(ChainError):
    """The Solidity compiler is missing or rejected the sources."""


class NpmMissing(ChainError):
    """``contracts/node_modules`` lacks a package; run ``npm ci`` in contracts/ (or ``make install``)."""


def require_npm(*packages: str) -> None:
    """Raise :class:`NpmMissing` unless every npm package is installed in contracts/node_modules."""
    for package in packages:
        if not (NODE_MODULES / package / "package.json").is_file():
            raise NpmMissing(
                f"npm package {package} is not installed in {NODE_MODULES}; "
                "run `cd contracts && npm ci` (or `make install`)"
            )


def sources() -> dict[str, str]:
    """Every Solidity source under ``contracts/src``, keyed by its path relative to contracts/."""
    return {p.relative_to(ROOT).as_posix(): p.read_text() for p in sorted(SRC.rglob("*.sol"))}


def compile_sources() -> dict[str, dict[str, Any]]:
    """Compile every source; return artifacts keyed by contract name.

    Raises
    ------
    CompileError
        If node is missing, solc reports an error, or the solc version is not the pinned one.
    """
    require_npm("solc")
    node = shutil.which("node")
    if node is None:
        raise CompileError("node is not on PATH; solc-js needs Node.js")
    request = {"language": "Solidity", "sources": {k: {"content": v} for k, v in sources().items()},
               "settings": SETTINGS}
    proc = subprocess.run([node, "-e", _NODE_SCRIPT], input=json.dumps(request), cwd=ROOT,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise CompileError(f"solc-js failed: {proc.stderr.strip()[:500]}")
    result = json.loads(proc.stdout)
    version, output = result["version"], result["output"]
    if not version.startswith(SOLC_VERSION + "+"):
        raise CompileError(f"solc-js is {version}, expected {SOLC_VERSION}")
    errors = [e for e in output.get("errors", []) if e["severity"] == "error"]
    if errors:
        raise CompileError("; ".join(e["formattedMessage"].strip() for e in errors)[:2000])
    artifacts: dict[str, dict[str, Any]] = {}
    for source_name, contracts in output["contracts"].items():
        for name, out in contracts.items():
            if not out["evm"]["bytecode"]["object"]:
                continue  # interfaces
            artifacts[name] = {
                "contractName": name,
                "sourceName": source_name,
                "compiler": version,
                "settings": {k: v for k, v in SETTINGS.items() if k != "outputSelection"},
                "abi": out["abi"],
                "bytecode": "0x" + out["evm"]["bytecode"]["object"],
                "deployedBytecode": "0x" + out["evm"]["deployedBytecode"]["object"],
            }
    return artifacts


def render(artifact: dict[str, Any]) -> str:
    """The exact text an artifact is committed as (sorted keys, stable layout)."""
    return json.dumps(artifact, indent=1, sort_keys=True) + "\n"


def write_artifacts(artifacts: dict[str, dict[str, Any]]) -> list[Path]:
    """Write each artifact to ``contracts/artifacts/<Name>.json``; return the paths."""
    ARTIFACTS.mkdir(exist_ok=True)
    paths = []
    for name, artifact in sorted(artifacts.items()):
        path = ARTIFACTS / f"{name}.json"
        path.write_text(render(artifact))
        paths.append(path)
    return paths


def stale_artifacts(artifacts: dict[str, dict[str, Any]]) -> list[str]:
    """Names whose committed artifact differs from ``artifacts`` (or is missing, or is extra)."""
    stale = []
    for name, artifact in artifacts.items():
        path = ARTIFACTS / f"{name}.json"
        if not path.is_file() or path.read_text() != render(artifact):
            stale.append(name)
    stale += [p.stem for p in ARTIFACTS.glob("*.json") if p.stem not in artifacts]
    return sorted(stale)


def load_artifact(name: str) -> dict[str, Any]:
    """The committed artifact of one of our contracts (``abi``, ``bytecode``, ...)."""
    path = ARTIFACTS / f"{name}.json"
    if not path.is_file():
        raise CompileError(f"no artifact {path}; run `python -m contracts.compile`")
    return json.loads(path.read_text())


def main(argv: list[str] | None = None) -> int:
    """Command line: compile and write artifacts, or ``--check`` them."""
    parser = argparse.ArgumentParser(prog="python -m contracts.compile", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if committed artifacts are stale")
    args = parser.parse_args(argv)
    try:
        artifacts = compile_sources()
    except ChainError as exc:
        sys.stderr.write(f"contracts.compile: error: {exc}\n")
        return 2
    if args.check:
        stale = stale_artifacts(artifacts)
        if stale:
            sys.stderr.write(f"stale artifacts: {', '.join(stale)}\n")
            return 1
        return 0
    for path in write_artifacts(artifacts):
        sys.stdout.write(f"wrote {path.relative_to(ROOT.parent)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
