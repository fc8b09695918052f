"""``alphapulse dashboard``: the live web dashboard of a mesh (docs/dashboard.md).

Prints ``dashboard: http://HOST:PORT/`` once it listens (port 0: a free one), then where the
operator token is, and serves until SIGTERM or Ctrl-C. Bad arguments, a port in use or an
unreadable token file print one line and exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import re
import signal
import sys

from mesh.cli import args as a

DOC = """Serve the live dashboard: nodes and heartbeats, the stop latch (stop and resume behind
the token in RUN_DIR/dashboard.token), ring fill and losses, pool prices, opportunities,
executions (predicted vs realized), P&L, alerts, process events, cross-chain signals.

Examples::

    alphapulse dashboard                       # http://127.0.0.1:8700/
    alphapulse dashboard --port 0              # a free port; the URL is printed
    alphapulse dashboard --config mesh.toml --host 0.0.0.0   # not loopback: think twice

It reads the mesh as an ad hoc subscriber and one more broadcast ring reader: it never slows a
node or a ring writer; a browser that falls behind is dropped.
"""

DEFAULT_PORT = 8700


def host_arg(text: str) -> str:
    """``--host``: an IP address to bind (or ``localhost``)."""
    if text == "localhost":
        return "127.0.0.1"
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"an IP address, not {text!r}") from None


def namespace_arg(text: str) -> str:
    """``--ring-namespace``: a ring namespace (letters, digits, ``_``, ``-``; 1..64)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", text):
        raise argparse.ArgumentTypeError(f"a ring namespace ([A-Za-z0-9_-]{{1,64}}), "
                                         f"not {text!r}")
    return text


def hostname_arg(text: str) -> str:
    """``--allow-host``: a host name or IP address (no port)."""
    if not re.fullmatch(r"[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:]{2,39}\]", text):
        raise argparse.ArgumentTypeError(f"a host name or IP address, not {text!r}")
    return text.lower()


def port_arg(text: str) -> int:
    """``--port``: 0 (a free port) or 1..65535."""
    return 0 if text.strip() == "0" else a.port(text)


def queue_arg(text: str) -> int:
    """``--client-queue``: messages queued per client before it is dropped (16..65536)."""
    try:
        n = int(text.strip(), 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"an integer, not {text!r}") from None
    if not 16 <= n <= 65536:
        raise argparse.ArgumentTypeError(f"between 16 and 65536, not {n}")
    return n


def register(subparsers: argparse._SubParsersAction) -> None:
    """``dashboard``: the live web dashboard."""
    p = subparsers.add_parser("dashboard", help="serve the live web dashboard",
                              description=DOC,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_config_arg(p)
    p.add_argument("--host", type=host_arg, default="127.0.0.1",
                   help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=port_arg, default=DEFAULT_PORT,
                   help=f"port (default {DEFAULT_PORT}; 0: a free one)")
    p.add_argument("--allow-host", action="append", default=[], type=hostname_arg,
                   metavar="NAME", help="another name browsers reach this server by (the Host "
                   "header is checked; repeatable)")
    p.add_argument("--run-dir", default=None,
                   help="where dashboard.token lives (default: the mesh's run_dir)")
    p.add_argument("--risk-node", type=a.name, default="risk",
                   help="the node stop and resume talk to (default risk)")
    p.add_argument("--ring-namespace", action="append", default=[], type=namespace_arg,
                   help="also read this ring namespace's market-data rings (repeatable)")
    p.add_argument("--client-queue", type=queue_arg, default=1024,
                   help="messages queued per browser before it is dropped (default 1024)")
    a.defaults(p, "nodes.dashboard.cli:cmd_dashboard", waits=True)


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Load the configuration and the token, serve until SIGTERM/SIGINT."""
    from alphapulse.parent import exit_with_parent
    from mesh.config import load_config
    from nodes.dashboard.server import Settings, serve
    from nodes.dashboard.token import load_or_create, token_path

    cfg = load_config(args.config)
    cfg.node(args.risk_node)  # a ConfigError naming the known nodes
    run_dir = args.run_dir or cfg.run_dir
    settings = Settings(cfg=cfg, token=load_or_create(run_dir), host=args.host,
                        port=args.port, risk_node=args.risk_node,
                        queue_size=args.client_queue,
                        ring_namespaces=tuple(args.ring_namespace),
                        extra_hosts=tuple(args.allow_host))
    exit_with_parent()

    def ready(port: int) -> None:
        shown = f"[{args.host}]" if ":" in args.host else args.host
        sys.stdout.write(f"dashboard: http://{shown}:{port}/\n"
                         f"dashboard: token in {token_path(run_dir)}\n")
        sys.stdout.flush()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, ready, stop)

    from nodes.dashboard.errors import ReaderDied

    try:
        asyncio.run(main())
    except ReaderDied as exc:
        sys.stderr.write(f"alphapulse dashboard: {exc}\n")
        return 1
    return 0
