"""Optional Coinbase subscribe authentication: CDP keys and their ES256 websocket JWTs."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import orjson
import pytest
from Crypto.Hash import SHA256
from Crypto.PublicKey import ECC
from Crypto.Signature import DSS

from cex.coinbase.auth import (
    ENV_KEY_NAME,
    ENV_PRIVATE_KEY,
    CdpKey,
    CoinbaseKeyError,
    load_key,
    ws_jwt,
)

NAME = "organizations/org-1/apiKeys/key-1"


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@pytest.fixture(scope="module")
def ec_key() -> ECC.EccKey:
    return ECC.generate(curve="P-256")


def test_a_websocket_jwt_is_es256_signed_and_lives_two_minutes(ec_key: ECC.EccKey) -> None:
    key = CdpKey.from_pem(NAME, ec_key.export_key(format="PEM"))
    token = ws_jwt(key, 1_700_000_000, nonce="abc123")
    head, body, sig = token.split(".")
    assert orjson.loads(_unb64(head)) == {"alg": "ES256", "kid": NAME, "nonce": "abc123",
                                          "typ": "JWT"}
    assert orjson.loads(_unb64(body)) == {"iss": "cdp", "sub": NAME, "nbf": 1_700_000_000,
                                          "exp": 1_700_000_120}
    raw = _unb64(sig)
    assert len(raw) == 64  # r || s, as JWS ES256 requires
    DSS.new(ec_key.public_key(), "fips-186-3").verify(
        SHA256.new(f"{head}.{body}".encode()), raw)


def test_each_jwt_gets_a_fresh_nonce(ec_key: ECC.EccKey) -> None:
    key = CdpKey.from_pem(NAME, ec_key.export_key(format="PEM"))
    nonces = {orjson.loads(_unb64(ws_jwt(key, 1).split(".")[0]))["nonce"] for _ in range(5)}
    assert len(nonces) == 5


def test_the_key_never_shows_in_its_repr(ec_key: ECC.EccKey) -> None:
    pem = ec_key.export_key(format="PEM")
    text = repr(CdpKey.from_pem(NAME, pem))
    assert NAME in text and "PRIVATE" not in text and str(ec_key.d) not in text


def test_no_key_configured_means_unauthenticated() -> None:
    assert load_key(None, environ={}) is None
    assert load_key("", environ={}) is None


def test_a_key_from_the_environment_accepts_escaped_newlines(ec_key: ECC.EccKey) -> None:
    pem = ec_key.export_key(format="PEM").replace("\n", "\\n")
    key = load_key(environ={ENV_KEY_NAME: NAME, ENV_PRIVATE_KEY: pem})
    assert key is not None and key.name == NAME
    assert key.private_key.d == ec_key.d


@pytest.mark.parametrize("env", [{ENV_KEY_NAME: NAME}, {ENV_PRIVATE_KEY: "x"}])
def test_half_a_key_in_the_environment_is_refused(env: dict[str, str]) -> None:
    with pytest.raises(CoinbaseKeyError, match="both"):
        load_key(environ=env)


def _key_file(tmp_path: Path, doc: object, mode: int = 0o600) -> Path:
    path = tmp_path / "cdp_api_key.json"
    path.write_bytes(orjson.dumps(doc))
    os.chmod(path, mode)
    return path


def test_a_key_file_is_read_when_only_its_owner_can(tmp_path: Path, ec_key: ECC.EccKey) -> None:
    path = _key_file(tmp_path, {"name": NAME, "privateKey": ec_key.export_key(format="PEM")})
    key = load_key(path, environ={ENV_KEY_NAME: "ignored", ENV_PRIVATE_KEY: "ignored"})
    assert key is not None and key.name == NAME


def test_a_key_file_others_can_read_is_refused(tmp_path: Path, ec_key: ECC.EccKey) -> None:
    path = _key_file(tmp_path, {"name": NAME, "privateKey": ec_key.export_key(format="PEM")},
                     0o644)
    with pytest.raises(CoinbaseKeyError, match="0644"):
        load_key(path)


@pytest.mark.parametrize("doc", [[], {"name": NAME}, {"name": NAME, "privateKey": 5},
                                 {"name": NAME, "privateKey": "not a key"},
                                 {"name": "", "privateKey": "x"}])
def test_a_malformed_key_file_is_refused(tmp_path: Path, doc: object) -> None:
    with pytest.raises(CoinbaseKeyError):
        load_key(_key_file(tmp_path, doc))


def test_a_missing_key_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CoinbaseKeyError, match="does not exist"):
        load_key(tmp_path / "none.json")


def test_a_key_on_another_curve_is_refused() -> None:
    pem = ECC.generate(curve="P-384").export_key(format="PEM")
    with pytest.raises(CoinbaseKeyError, match="P-256"):
        CdpKey.from_pem(NAME, pem)


def test_a_public_key_is_refused(ec_key: ECC.EccKey) -> None:
    with pytest.raises(CoinbaseKeyError):
        CdpKey.from_pem(NAME, ec_key.public_key().export_key(format="PEM"))
