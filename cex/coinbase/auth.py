"""Optional authentication of Coinbase websocket subscriptions: a CDP key signs a JWT (ES256).

The public market-data channels work without a key; Coinbase recommends one for the most
reliable connection. With a key, every subscribe message carries its own JWT: header
``{"alg": "ES256", "kid": <key name>, "nonce": <random hex>, "typ": "JWT"}``, claims
``{"iss": "cdp", "sub": <key name>, "nbf": now, "exp": now + 120}`` (websocket JWTs have no
request method or path; they expire after 2 minutes), signed with the key's P-256 private key
(ECDSA over SHA-256, ``r || s`` in 64 bytes as JWS requires).

Keys come from the environment (``COINBASE_API_KEY_NAME``, ``COINBASE_API_PRIVATE_KEY``: the
PEM text, ``\\n`` escapes allowed) or from the JSON key file the Coinbase developer platform
hands out (``{"name": ..., "privateKey": ...}``), which must not be readable by group or others
(mode 0600). Neither the key nor a JWT is ever logged: :class:`CdpKey`'s repr shows the name.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from Crypto.Hash import SHA256
from Crypto.PublicKey import ECC
from Crypto.Signature import DSS

from alphapulse.errors import ConfigError
from contracts.accounts import read_private

__all__ = ["ENV_KEY_NAME", "ENV_PRIVATE_KEY", "CdpKey", "CoinbaseKeyError", "load_key", "ws_jwt"]

ENV_KEY_NAME = "COINBASE_API_KEY_NAME"
"""Environment variable holding the CDP key's name (``organizations/.../apiKeys/...``)."""
ENV_PRIVATE_KEY = "COINBASE_API_PRIVATE_KEY"
"""Environment variable holding the CDP key's PEM private key."""

JWT_LIFETIME_S = 120


class CoinbaseKeyError(ConfigError):
    """A Coinbase key that cannot be used: missing half, unreadable, too open, not P-256."""

    kind = "config"


@dataclass(frozen=True)
class CdpKey:
    """A CDP API key: its name and P-256 private key (never shown by ``repr``).

    Attributes
    ----------
    name : str
        The key's name, the JWT's ``kid`` and ``sub``.
    private_key : Crypto.PublicKey.ECC.EccKey
        The signing key.
    """

    name: str
    private_key: Any = field(repr=False)

    @classmethod
    def from_pem(cls, name: str, pem: str) -> CdpKey:
        """A key from its name and PEM text (SEC1 ``EC PRIVATE KEY`` or PKCS#8).

        Raises
        ------
        CoinbaseKeyError
            An empty name, text that is not a private key, or a curve other than P-256.
        """
        if not name:
            raise CoinbaseKeyError("a Coinbase key needs its name")
        pem = pem.replace("\\n", "\n").strip()
        try:
            key = ECC.import_key(pem)
        except (ValueError, IndexError, TypeError):
            raise CoinbaseKeyError("the Coinbase private key is not a PEM EC key") from None
        if not key.has_private() or key.curve != "NIST P-256":
            raise CoinbaseKeyError("the Coinbase private key must be a P-256 private key (ES256)")
        return cls(name, key)


def _read_private(path: Path) -> bytes:
    return read_private(path, "Coinbase key file", CoinbaseKeyError)


def load_key(key_file: str | os.PathLike[str] | None = None,
             environ: dict[str, str] | None = None) -> CdpKey | None:
    """The configured CDP key, or None when none is configured (public, unauthenticated).

    Parameters
    ----------
    key_file : path, optional
        A JSON key file ``{"name": ..., "privateKey": ...}`` (mode 0600). When empty or None
        the environment is read instead.
    environ : dict, optional
        The environment (``os.environ`` by default).

    Raises
    ------
    CoinbaseKeyError
        A key file that is missing, too open or malformed; one of the two variables without
        the other; a key that is not a P-256 private key.
    """
    if key_file:
        path = Path(key_file)
        try:
            doc = orjson.loads(_read_private(path))
        except orjson.JSONDecodeError:
            raise CoinbaseKeyError(f"Coinbase key file {path} is not JSON") from None
        if type(doc) is not dict or type(doc.get("name")) is not str \
                or type(doc.get("privateKey")) is not str:
            raise CoinbaseKeyError(f"Coinbase key file {path} needs string fields name and "
                                   "privateKey")
        return CdpKey.from_pem(doc["name"], doc["privateKey"])
    env = os.environ if environ is None else environ
    name, pem = env.get(ENV_KEY_NAME, ""), env.get(ENV_PRIVATE_KEY, "")
    if not name and not pem:
        return None
    if not (name and pem):
        raise CoinbaseKeyError(f"set both {ENV_KEY_NAME} and {ENV_PRIVATE_KEY}, or neither")
    return CdpKey.from_pem(name, pem)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def ws_jwt(key: CdpKey, now_s: int, nonce: str | None = None) -> str:
    """A websocket JWT for one subscribe message (valid ``JWT_LIFETIME_S`` from ``now_s``).

    Parameters
    ----------
    key : CdpKey
        The signing key.
    now_s : int
        The current Unix time in seconds (``nbf``).
    nonce : str, optional
        The header's nonce (random 16 bytes in hex by default).
    """
    header = {"alg": "ES256", "kid": key.name, "nonce": nonce or secrets.token_hex(16),
              "typ": "JWT"}
    claims = {"iss": "cdp", "sub": key.name, "nbf": now_s, "exp": now_s + JWT_LIFETIME_S}
    signing_input = f"{_b64url(orjson.dumps(header))}.{_b64url(orjson.dumps(claims))}"
    signature = DSS.new(key.private_key, "fips-186-3").sign(SHA256.new(signing_input.encode()))
    return f"{signing_input}.{_b64url(signature)}"
