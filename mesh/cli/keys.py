"""``alphapulse keys generate NAME`` / ``keys list``: CURVE key pairs (secret files 0600).

The secret key is never printed. The parser, which admits only safe names (no ``..``, no
``/``, no hidden files), is in :mod:`mesh.cli.commands`.
"""

from __future__ import annotations

import argparse
import os

import zmq.auth

from alphapulse.errors import ConfigError
from mesh.config import load_config
from mesh.security import generate_keys


def _keys_dir(args: argparse.Namespace) -> str:
    return args.dir or str(load_config(args.config).keys_path)


def cmd_keys_generate(args: argparse.Namespace) -> int:
    """Create a key pair; print the file names and the public key only."""
    public, secret = generate_keys(_keys_dir(args), args.name, force=args.force)
    print(f"public  {public}")
    print(f"secret  {secret} (mode 0600; never share or log it)")
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    """List the public keys in the keys directory (the admitted peers)."""
    d = _keys_dir(args)
    if not os.path.isdir(d):
        raise ConfigError(f"no keys directory at {d}")
    for name in sorted(os.listdir(d)):
        if name.endswith(".key"):
            public, _ = zmq.auth.load_certificate(os.path.join(d, name))
            print(f"{name[:-4]:32} {public.decode()}")
    return 0
