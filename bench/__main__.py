"""``python -m bench NAME [--json]``: run one benchmark (or ``all``) and print its table."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import bench
from bench.report import format_table, json_lines

_HELPERS = {"report", "pinning", "bootstrap", "block_latency",  # these two: rows of the collector bench
            "strategy_market", "strategy_node", "strategy_v3"}  # rows of the strategy bench


def available() -> list[str]:
    """Names of the benchmark modules in ``bench/``."""
    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__)
                  if not m.name.startswith("_") and m.name not in _HELPERS)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run the chosen benchmarks, print their tables."""
    names = available()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("name", choices=[*names, "all", "list"], help="benchmark to run")
    parser.add_argument("--json", action="store_true", help="one JSON object per row")
    known, rest = parser.parse_known_args(argv)
    if known.name == "list":
        print("\n".join(names))
        return 0
    for name in names if known.name == "all" else [known.name]:
        module = importlib.import_module(f"bench.{name}")
        sub = argparse.ArgumentParser(prog=f"python -m bench {name}")
        if hasattr(module, "add_arguments"):
            module.add_arguments(sub)
        args = sub.parse_args(rest if known.name != "all" else [])
        rows = module.run(args)
        print(json_lines(rows) if known.json else format_table(rows), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
