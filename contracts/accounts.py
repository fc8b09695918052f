"""Signing accounts: anvil's public development keys, or a key from the environment or a keystore.

The devnet uses anvil's well-known development mnemonic (public, worthless outside a local
chain). Any other key comes from the environment (``ALPHAPULSE_PRIVATE_KEY``) or from an
eth-account encrypted keystore file unlocked by a password file (:func:`load_account`). Neither
the key nor the password is ever logged or put into an exception message, its ``repr`` or its
traceback: the foreign error that carries them is dropped (``raise ... from None``).
"""

from __future__ import annotations

import functools
import json
import os
import stat
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from alphapulse.errors import AlphaPulseError, ChainError

#: anvil's default development mnemonic (public knowledge; devnet only).
DEV_MNEMONIC = "test test test test test test test test test test test junk"

#: Permission bits a keystore or password file must not have: anything beyond owner read/write.
_TOO_OPEN = stat.S_IRWXG | stat.S_IRWXO | stat.S_IXUSR


class KeyLoadError(ChainError):
    """A signing key that cannot be loaded: unset variable, bad key, missing, unreadable,
    too open or malformed keystore, wrong password. The message names the variable or file,
    never the key nor the password."""

    kind = "key"


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
    KeyLoadError
        The variable is unset or does not hold a private key (the message never shows it).
    """
    key = os.environ.get(variable)
    if not key:
        raise KeyLoadError(f"environment variable {variable} is not set")
    try:
        return Account.from_key(key.strip())
    except (ValueError, TypeError):
        raise KeyLoadError(f"environment variable {variable} does not hold a private key") from None


def load_account(env_var: str = "ALPHAPULSE_PRIVATE_KEY", keystore: str | os.PathLike[str] | None = None,
                 password_file: str | os.PathLike[str] | None = None) -> LocalAccount:
    """The executor's signing account, from a keystore file or else from the environment.

    Parameters
    ----------
    env_var
        Environment variable holding the hex private key; read only when ``keystore`` is None.
    keystore
        An eth-account encrypted keystore (JSON, version 3, scrypt or pbkdf2).
    password_file
        File holding the keystore's password; one trailing newline (``\\n`` or ``\\r\\n``) is
        stripped, nothing else. Required with ``keystore``.

    Both files are refused, not merely warned about, when their mode is wider than ``0600``
    (any group or other bit, or the owner's execute bit), as ssh refuses an open private key:
    a secret another user could read is a secret already lost. Fix with ``chmod 600``.

    Raises
    ------
    KeyLoadError
        The variable is unset or malformed; a file is missing, unreadable or too open; the
        keystore is not a keystore; the password is empty or wrong.
    """
    if keystore is None:
        return env_account(env_var)
    if password_file is None:
        raise KeyLoadError(f"keystore {keystore} needs a password file")
    keyfile = _read_keystore(Path(keystore))
    raw = read_private(Path(password_file), "password file")
    if raw.endswith(b"\n"):
        raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
    if not raw:
        raise KeyLoadError(f"password file {password_file} is empty")
    try:
        password = raw.decode()
    except UnicodeDecodeError:
        raise KeyLoadError(f"password file {password_file} is not UTF-8 text") from None
    try:
        key = Account.decrypt(keyfile, password)
    except ValueError:
        raise KeyLoadError(f"wrong password for keystore {keystore} (MAC mismatch)") from None
    except (KeyError, TypeError, AttributeError, NotImplementedError):
        raise KeyLoadError(f"keystore {keystore} is malformed or uses an unsupported cipher") from None
    return Account.from_key(key)


def read_private(path: Path, what: str, error: type[AlphaPulseError] = KeyLoadError) -> bytes:
    """The bytes of a secret file (a key, a password) after checking that it is a regular
    file only its owner may read or write, as ssh does for a private key.

    Parameters
    ----------
    path : Path
        The file.
    what : str
        What it is, for the message ("keystore", "Coinbase key file").
    error : type
        The error raised (the caller's leaf of the error tree).

    Raises
    ------
    error
        Missing, unreadable, not a regular file, or a mode wider than 0600.
    """
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise error(f"{what} {path} is not a regular file")
        if mode & _TOO_OPEN:
            raise error(f"{what} {path} has mode {stat.S_IMODE(mode):04o}, wider than 0600: "
                        f"chmod 600 {path}")
        return path.read_bytes()
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise error(f"{what} {path} cannot be read: {exc.strerror}") from None


def _read_keystore(path: Path) -> dict:
    """The parsed keystore JSON, checked for the fields of an encrypted (version 3) key."""
    text = read_private(path, "keystore")
    try:
        keyfile = json.loads(text)
    except ValueError:  # JSON or UTF-8 decoding
        raise KeyLoadError(f"keystore {path} is not JSON") from None
    crypto = keyfile.get("crypto", keyfile.get("Crypto")) if isinstance(keyfile, dict) else None
    if not isinstance(crypto, dict) or keyfile.get("version") != 3:
        raise KeyLoadError(f"keystore {path} is not an encrypted key (version 3 with a crypto section)")
    return keyfile
