"""The subcommands ``mesh`` contributes to ``alphapulse``: codec, tap, rings, stop/resume, keys.

Each ``register_*`` function is named in the ``alphapulse.commands`` entry-point group
(pyproject.toml) and adds one command's parser; the command's module is imported only when
it runs. Nothing here may import above ``mesh`` (``shm`` is below it).
"""

from __future__ import annotations

import argparse

from mesh.cli import args as a

RINGS_DOC = """List a namespace's shared-memory rings, their readers' lag and losses.

Examples::

    alphapulse rings                      # rings of $ALPHAPULSE_NAMESPACE (or "default")
    alphapulse rings --namespace mesh1 --json
    alphapulse rings --all --watch 1      # every namespace, refreshed each second
    alphapulse rings /ap.mesh1.md.evm     # one segment (a bad one exits 2 naming it)
    alphapulse rings --all --leftovers [--remove]

A segment that is not a ring, or of another layout version, is an error naming the segment
(exit status 2).
"""


TAP_DOC = """Print frames as they flow: one JSON line (or table row) per frame.

Examples::

    alphapulse tap --type ArbitrageOpportunity      # ZeroMQ, every publisher
    alphapulse tap --domain system --format table   # heartbeats and stops
    alphapulse tap --ring market-data --type PoolSync --count 10
    alphapulse tap --ring market-data --source collector-evm --seconds 5

With --ring, tap attaches a broadcast reader to every writer's ring of the domain (also
writers that start later); it never slows a writer. When it falls a whole ring behind, it
says on stderr how many frames it lost, and the next JSON line carries ``lost_before``.
"""


def register_decode(subparsers: argparse._SubParsersAction) -> None:
    """``decode``: frames (hex or raw bytes) to JSON lines."""
    p = subparsers.add_parser("decode", help="frames (hex or raw bytes) -> JSON lines",
                              description="Decode frames given as hex arguments, or as raw "
                              "bytes or hex lines on stdin; print one JSON object per frame.")
    p.add_argument("hex", nargs="*", help="frames as hex; read stdin when none are given")
    p.add_argument("--allow-zero-checksum", action="store_true",
                   help="accept checksum 0 (upstream hot-path producers)")
    p.add_argument("--no-verify", action="store_true", help="do not check checksums")
    a.defaults(p, "mesh.cli.codec:run_decode")


def register_encode(subparsers: argparse._SubParsersAction) -> None:
    """``encode``: what ``decode`` prints, back to hex frames."""
    p = subparsers.add_parser("encode", help="JSON lines -> frames as hex",
                              description="Encode what `alphapulse decode` prints (one JSON "
                              "object per argument or per stdin line) back into hex frames.")
    p.add_argument("json", nargs="*", help="frames as JSON; read stdin lines when none are given")
    a.defaults(p, "mesh.cli.codec:run_encode")


def register_types(subparsers: argparse._SubParsersAction) -> None:
    """``types``: the TLV type registry, or one type's byte layout."""
    p = subparsers.add_parser("types", help="print the TLV type registry")
    p.add_argument("--json", action="store_true", help="one JSON object per type")
    p.add_argument("--layout", metavar="NAME", help="print the byte layout of one type")
    a.defaults(p, "mesh.cli.codec:run_types")


def register_tap(subparsers: argparse._SubParsersAction) -> None:
    """``tap``: an ad hoc subscriber printing the frames that flow through the mesh."""
    p = subparsers.add_parser("tap", help="print frames flowing through the mesh or a ring",
                              description=TAP_DOC,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_config_arg(p)
    p.add_argument("--domain", type=a.domain,
                   help="market-data | signal | execution | system, or 1-4")
    p.add_argument("--ring", type=a.domain, metavar="DOMAIN",
                   help="read the shared-memory rings of DOMAIN (market-data...) instead of "
                   "ZeroMQ, as one more reader that never slows their writers")
    p.add_argument("--type", dest="tlv_type", type=a.message_type,
                   help="message type name or number")
    p.add_argument("--strategy", "--key", dest="strategy", type=a.topic_key,
                   help="routing key: strategy id, else instrument or pool (topic key)")
    p.add_argument("--source", type=a.name, help="publisher node name")
    p.add_argument("--endpoint", action="append", default=[], type=a.endpoint,
                   help="connect to this raw endpoint too (repeatable)")
    p.add_argument("--format", choices=("json", "table"), default="json")
    p.add_argument("--count", type=a.count, default=0, help="exit after N frames (0: never)")
    p.add_argument("--seconds", type=a.seconds, default=0,
                   help="exit after S seconds (0: never)")
    a.defaults(p, "mesh.cli.tap:cmd_tap", waits=True)


def register_rings(subparsers: argparse._SubParsersAction) -> None:
    """``rings``: a namespace's shared-memory rings, their readers' lag and losses."""
    p = subparsers.add_parser("rings", help="list shared-memory rings, readers' lag and losses",
                              description=RINGS_DOC,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("segment", nargs="?", help="one segment name (/ap.NS.DOMAIN.WRITER)")
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("--namespace", "-n", help="mesh namespace (default: $ALPHAPULSE_NAMESPACE"
                       " or 'default')")
    scope.add_argument("--all", action="store_true", help="every namespace on this host")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    p.add_argument("--watch", nargs="?", type=a.positive_seconds, const=1.0, metavar="SECONDS",
                   help="refresh every SECONDS (default 1) until interrupted")
    p.add_argument("--iterations", type=a.count, default=0, help=argparse.SUPPRESS)
    p.add_argument("--leftovers", action="store_true",
                   help="list rings nobody uses any more (dead writer and readers)")
    p.add_argument("--remove", action="store_true", help="with --leftovers: unlink them")
    a.defaults(p, "mesh.cli.rings:run", waits="watch")


def _register_control(subparsers: argparse._SubParsersAction, name: str, helptext: str) -> None:
    p = subparsers.add_parser(name, help=helptext)
    a.add_config_arg(p)
    if name == "stop":
        p.add_argument("--reason", required=True, help="why (at most 64 bytes)")
    p.add_argument("--node", default="risk", type=a.name,
                   help="node that latches it (default: risk)")
    p.add_argument("--timeout", type=a.positive_seconds, default=2.0,
                   help="seconds to wait for the node")
    a.defaults(p, f"mesh.cli.control:cmd_{name}", waits=True)


def register_stop(subparsers: argparse._SubParsersAction) -> None:
    """``stop --reason TEXT``: set the kill flag, then latch an emergency stop on the risk node."""
    _register_control(subparsers, "stop", "raise and latch an emergency stop")


def register_resume(subparsers: argparse._SubParsersAction) -> None:
    """``resume``: release the latched emergency stop, then clear the kill flag."""
    _register_control(subparsers, "resume", "release the latched emergency stop")


def register_keys(subparsers: argparse._SubParsersAction) -> None:
    """``keys generate NAME`` / ``keys list``: CURVE key pairs for tcp endpoints."""
    p = subparsers.add_parser("keys", help="CURVE key pairs for tcp endpoints")
    a.add_config_arg(p)
    actions = p.add_subparsers(dest="keys_command", metavar="ACTION")
    actions.required = True
    g = actions.add_parser("generate", help="create NAME.key and NAME.key_secret (0600)")
    g.add_argument("name", type=a.name, help="key pair name (a node name, or 'operator')")
    g.add_argument("--dir", help="keys directory (default: the config's keys_dir)")
    g.add_argument("--force", action="store_true", help="replace existing files")
    a.defaults(g, "mesh.cli.keys:cmd_keys_generate")
    lst = actions.add_parser("list", help="list the listed (admitted) public keys")
    lst.add_argument("--dir", help="keys directory (default: the config's keys_dir)")
    a.defaults(lst, "mesh.cli.keys:cmd_keys_list")
