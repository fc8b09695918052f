"""Errors of the local exchange server (a script, a key file or a setting it cannot use)."""

from __future__ import annotations

from cex.errors import CexError


class ExchangeError(CexError):
    """The local exchange server cannot start or run as configured."""

    kind = "exchange"


class ScriptError(ExchangeError):
    """A replay script that cannot be run: bad JSON, an unknown step kind, a bad field."""

    kind = "script"


class KeysError(ExchangeError):
    """API keys that cannot be loaded (a missing or group/world-readable file, a bad line)."""

    kind = "keys"


class SymbolsError(ExchangeError):
    """A symbol mapping (``ETHUSDT=WETH/USDC``) that cannot be used."""

    kind = "symbols"
