"""``alphapulse nodes``: the declared graph, every node kind's contract and who feeds whom.

The parser is in :mod:`nodes.runtime.cli`.
"""

from __future__ import annotations

import argparse

import orjson

from nodes.runtime.catalog import NODE_KINDS, load_node


def cmd_nodes(args: argparse.Namespace) -> int:
    """Print every known node kind's contract and the edges between kinds."""
    contracts = [load_node(kind).CONTRACT for kind in NODE_KINDS]
    if args.json:
        for c in contracts:
            print(orjson.dumps(c.describe()).decode())
        return 0
    for c in contracts:
        d = c.describe()
        print(f"{c.kind}: {c.role}")
        print(f"  source    {d['source']}{'  (obeys emergency stop)' if c.obeys_stop else ''}")
        print(f"  consumes  {', '.join(d['consumes'])}")
        print(f"  produces  {', '.join(d['produces'])}")
        for key, spec in d["config"].items():
            print(f"  config    {key} = {spec['default']!r}  ({spec['doc']})")
    print("edges:")
    for src in contracts:
        for dst in contracts:
            shared = [t.__name__ for t in src.produces if t in dst.consumes]
            if shared and src is not dst:
                print(f"  {src.kind} -> {dst.kind}: {', '.join(shared)}")
    print("  every node -> every node: Heartbeat, EmergencyStop (system domain)")
    return 0
