"""The paper exchange's API keys: from a file only its owner may read, or the environment.

The file is JSON, ``{"api_key": "...", "secret": "..."}`` or a list of such objects (one paper
account per key); it is refused when its mode is wider than 0600, as ssh refuses an open
private key. Without a file, ``ALPHAPULSE_BINANCE_API_KEY`` and ``ALPHAPULSE_BINANCE_API_SECRET``
give one pair (the names the gateway reads, so one setting serves both). Secrets never appear
in a message, a ``repr`` or a log line.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

import orjson

from cex.exchange.errors import KeysError

API_KEY_ENV = "ALPHAPULSE_BINANCE_API_KEY"
API_SECRET_ENV = "ALPHAPULSE_BINANCE_API_SECRET"
_TOO_OPEN = stat.S_IRWXG | stat.S_IRWXO | stat.S_IXUSR


def mask(key: str) -> str:
    """An API key as it may be logged: its first 4 characters."""
    return key[:4] + "..." if len(key) > 4 else "..."


def _pairs(doc: object, path: Path) -> list[tuple[str, str]]:
    items = doc if isinstance(doc, list) else [doc]
    pairs = []
    for i, item in enumerate(items):
        key = item.get("api_key") if isinstance(item, dict) else None
        secret = item.get("secret") if isinstance(item, dict) else None
        if not (isinstance(key, str) and key and isinstance(secret, str) and secret):
            raise KeysError(f"key file {path}: entry {i} needs non-empty strings api_key and secret")
        if not key.isascii() or not key.isprintable():
            raise KeysError(f"key file {path}: entry {i}'s api_key is not printable ASCII")
        pairs.append((key, secret))
    if len({k for k, _ in pairs}) != len(pairs):
        raise KeysError(f"key file {path}: an api_key is listed twice")
    return pairs


def load_keys_file(path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """The (api key, secret) pairs of a key file.

    Raises
    ------
    KeysError
        Missing, unreadable, not a regular file, mode wider than 0600, not JSON, bad entries.
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise KeysError(f"key file {path} is not a regular file")
        if mode & _TOO_OPEN:
            raise KeysError(f"key file {path} has mode {stat.S_IMODE(mode):04o}, wider than 0600: "
                            f"chmod 600 {path}")
        raw = path.read_bytes()
    except OSError as exc:
        raise KeysError(f"key file {path}: {exc.strerror or type(exc).__name__}") from None
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise KeysError(f"key file {path} is not JSON") from None
    return _pairs(doc, path)


def load_keys(path: str | os.PathLike[str] | None = None,
              environ: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """Keys from ``path``, else from the environment (both variables set), else none."""
    if path:
        return load_keys_file(path)
    env = os.environ if environ is None else environ
    key, secret = env.get(API_KEY_ENV, "").strip(), env.get(API_SECRET_ENV, "").strip()
    if bool(key) != bool(secret):
        missing = API_SECRET_ENV if key else API_KEY_ENV
        raise KeysError(f"environment variable {missing} is not set (both or neither)")
    return [(key, secret)] if key else []
