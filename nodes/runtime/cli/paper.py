"""The local paper exchange of ``alphapulse run``: its port and its API key pair.

The default deployment points the CEX collectors and the order gateway at the local exchange
(``cex.exchange``) so everything runs offline. ``alphapulse run`` gives supervisord, through
the environment, the exchange's port (``ALPHAPULSE_EXCHANGE_PORT``, kept when already set, else
a free loopback port) and a key file (``ALPHAPULSE_PAPER_KEYS``, ``RUN_DIR/paper-keys.json``,
mode 0600, a fresh random pair made once per run directory) that the exchange accepts and the
gateway signs with. Real endpoints and keys are configuration (docs/cex-gateway.md).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import orjson

from alphapulse.ports import free_port

PORT_ENV = "ALPHAPULSE_EXCHANGE_PORT"
KEYS_ENV = "ALPHAPULSE_PAPER_KEYS"


def paper_keys(run_dir: Path) -> Path:
    """``run_dir/paper-keys.json``, created 0600 with a random key pair if missing."""
    path = run_dir / "paper-keys.json"
    if not path.exists():
        pair = {"api_key": secrets.token_hex(32), "secret": secrets.token_hex(32)}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(orjson.dumps([pair]))
    return path


def paper_exchange_env(run_dir: Path, environ: dict[str, str]) -> dict[str, str]:
    """The variables supervisord's programs need to find the paper exchange."""
    port = environ.get(PORT_ENV) or str(free_port())
    return {PORT_ENV: port, KEYS_ENV: str(paper_keys(run_dir))}
