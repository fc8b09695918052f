"""Signing accounts: anvil's public development keys, or a key from the environment.

The devnet uses anvil's well-known development mnemonic (public, worthless outside a local
chain). Any other key comes from the environment (``ALPHAPULSE_PRIVATE_KEY``) and is never logged
and never put into an exception message.
"""

from __future__ import annotations

import functools
import os

from eth_account import Account
from eth_account.signers.local import LocalAccount

from alphapulse.errors import ChainError

#: anvil's default development mnemonic (public knowledge; devnet only).
DEV_MNEMONIC = "test test test test test test test test test test test junk"


@functools.cache
def dev_account(index: int = 0) -> LocalAccount:
    """Development account ``index`` of :data:`DEV_MNEMONIC` (anvil funds the first ten).

    Derived once per index (HD derivation takes about 0.1 s) and shared: the account only signs.
    """
    Account.enable_unaudited_hdwallet_features()
    return Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


def env_account(variable: str = "ALPHAPULSE_PRIVATE_KEY") -> LocalAccount:
    """The account whose private key is in environment variable ``variable``.

    Raises
    ------
    ChainError
        The variable is unset or does not hold a private key (the message never shows it).
    """
    key = os.environ.get(variable)
    if not key:
        raise ChainError(f"environment variable {variable} is not set")
    try:
        return Account.from_key(key)
    except (ValueError, TypeError):
        raise ChainError(f"environment variable {variable} does not hold a private key") from None
