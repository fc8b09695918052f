"""The paper exchange's API keys: from a file only its owner may read, or the environment.

The file is JSON, ``{"api_key": "...", "secret": "..."}`` or a list of such objects (one paper
account per key); it is refused when its mode is wider than 0600, as ssh refuses an open
private key. Without a file, ``ALPHAPULSE_BINANCE_API_KEY`` and ``ALPHAPULSE_BINANCE_API_SECRET``
give one pair (the names the gateway reads, so one setting serves both). Secrets never appear
in a message, a ``repr`` or a log line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from cex.binance.signing import ApiKeyError, load_key_pairs
from cex.exchange.errors import KeysError

API_KEY_ENV = "ALPHAPULSE_BINANCE_API_KEY"
API_SECRET_ENV = "ALPHAPULSE_BINANCE_API_SECRET"


def mask(key: str) -> str:
    """An API key as it may be logged: its first 4 characters."""
    return key[:4] + "..." if len(key) > 4 else "..."


def load_keys_file(path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """The (api key, secret) pairs of a key file (:func:`cex.binance.signing.load_key_pairs`).

    Raises
    ------
    KeysError
        Missing, unreadable, not a regular file, mode wider than 0600, not JSON, bad entries.
    """
    try:
        return load_key_pairs(path)
    except ApiKeyError as exc:
        raise KeysError(str(exc)) from None


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
