"""``python -m nodes.runtime KIND [--name NAME] [--config PATH]``: run one node.

The node stops when its parent (supervisord, or whoever started it) dies: see
:mod:`alphapulse.parent`. That guard is set before the node's heavy imports.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys

from alphapulse.parent import exit_with_parent


def main(argv: list[str] | None = None) -> int:
    """Run the node named on the command line until SIGTERM/SIGINT; exit 2 on bad config."""
    exit_with_parent()
    parser = argparse.ArgumentParser(prog="python -m nodes.runtime", description=__doc__)
    parser.add_argument("kind", help="node kind (risk, monitor, ...) or module:Class")
    parser.add_argument("--name", help="node name in the mesh configuration (default: kind)")
    parser.add_argument("--config", help="mesh TOML file (default: $ALPHAPULSE_CONFIG)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from alphapulse.errors import AlphaPulseError
    from mesh.config import load_config
    from nodes.runtime.catalog import load_node
    from nodes.runtime.runtime import NodeRuntime

    try:
        cfg = load_config(args.config)
        runtime = NodeRuntime(load_node(args.kind), cfg, args.name)
        return runtime.run()
    except AlphaPulseError as exc:
        sys.stderr.write(f"{args.kind}: error: {exc}\n")
        return 2


def exit_now(status: int) -> None:
    """Flush the logs and output, then end the process without the interpreter's teardown.

    The node has closed everything it owns by now; what is left is the final garbage
    collection of a large heap (numba, numpy), which takes seconds on a loaded host and made
    supervisord kill nodes that had stopped cleanly.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed, or nobody reading
            stream.flush()
    os._exit(status)


if __name__ == "__main__":
    exit_now(main())
