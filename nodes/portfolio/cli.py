"""``alphapulse pnl [--json] [--db PATH] [--config PATH]``: positions, P&L and per-strategy
performance from the portfolio's store.

Read-only: it opens the SQLite file with ``mode=ro`` and reads the derived tables, so it works
while the node runs (WAL: readers never block the writer). The default database is
``<run_dir>/portfolio.sqlite`` of the mesh configuration (the node's default too). A missing
database, one at another schema version, or a bad argument: one line, exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mesh.cli import args as a


def register(subparsers: argparse._SubParsersAction) -> None:
    """``pnl``: the portfolio's books."""
    p = subparsers.add_parser("pnl", help="positions, P&L and per-strategy performance",
                              description="Positions, realized P&L and per-strategy performance "
                                          "from the portfolio's SQLite store (read-only: works "
                                          "while the node runs). docs/portfolio.md.")
    a.add_config_arg(p)
    p.add_argument("--db", help="portfolio database (default: <run_dir>/portfolio.sqlite)")
    p.add_argument("--json", action="store_true", help="one JSON object, amounts as integers")
    a.defaults(p, "nodes.portfolio.cli:cmd_pnl")


def _labels() -> dict[str, str]:
    """Token symbols from the devnet manifest, when there is one (else none)."""
    from alphapulse.errors import ChainError
    from contracts.devnet import DevnetPaths, load_manifest

    try:
        manifest = load_manifest(DevnetPaths.of().manifest)
    except ChainError:
        return {}
    tokens = manifest.get("tokens", {}) if isinstance(manifest, dict) else {}
    return {str(t.get("address", "")).lower(): str(sym) for sym, t in tokens.items()
            if isinstance(t, dict)}


def cmd_pnl(args: argparse.Namespace) -> int:
    """Print the report of the store at ``--db`` (or the configured run directory's)."""
    from mesh.config import load_config
    from nodes.portfolio.books import Books
    from nodes.portfolio.report import render, report
    from nodes.portfolio.store import Store

    path = Path(args.db) if args.db else Path(load_config(args.config).run_dir) / "portfolio.sqlite"
    store = Store(path, readonly=True)
    try:
        books = Books.of(store.bookings(), store.pending())
    finally:
        store.close()
    rep = report(books)
    if args.json:
        sys.stdout.write(json.dumps(rep, indent=1) + "\n")
    else:
        sys.stdout.write(render(rep, _labels()) + "\n")
    return 0
