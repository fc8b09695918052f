"""Signing keys from the environment or an encrypted keystore: each failure is a KeyLoadError
that names the variable or file and never shows the key or the password, not even in its
repr or traceback."""

from __future__ import annotations

import json
import os
import traceback
from pathlib import Path

import pytest
from eth_account import Account

from alphapulse.errors import ChainError
from contracts.accounts import KeyLoadError, dev_account, env_account, load_account

KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
KEY_HEX = KEY[2:]
PASSWORD = "correct horse battery staple 7"
VAR = "ALPHAPULSE_TEST_KEY"


def _leak_free(exc: BaseException) -> None:
    """Neither the key (any case, with or without 0x) nor the password is in the error's text."""
    text = str(exc) + repr(exc) + "".join(traceback.format_exception(exc))
    for secret in (KEY_HEX, KEY_HEX.upper(), PASSWORD):
        assert secret not in text


def _private(path: Path, content: bytes | str) -> Path:
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    path.chmod(0o600)
    return path


@pytest.fixture
def keystore(tmp_path: Path) -> Path:
    """The test key encrypted with :data:`PASSWORD` (pbkdf2 with 2 iterations: fast, not safe)."""
    encrypted = Account.encrypt(KEY, PASSWORD, kdf="pbkdf2", iterations=2)
    return _private(tmp_path / "key.json", json.dumps(encrypted))


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    return _private(tmp_path / "password", PASSWORD + "\n")


def _load_error(**kwargs: object) -> KeyLoadError:
    with pytest.raises(KeyLoadError) as info:
        load_account(**kwargs)  # type: ignore[arg-type]
    _leak_free(info.value)
    return info.value


def test_env_account_loads_the_key_from_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VAR, KEY)
    assert load_account(VAR).address == Account.from_key(KEY).address
    assert env_account(VAR).key.hex() == KEY_HEX


def test_env_key_without_prefix_and_with_a_newline_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VAR, KEY_HEX + "\n")
    assert load_account(VAR).address == Account.from_key(KEY).address


def test_unset_variable_is_a_key_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VAR, raising=False)
    exc = _load_error(env_var=VAR)
    assert VAR in str(exc) and exc.kind == "key" and isinstance(exc, ChainError)


def test_malformed_env_key_is_refused_without_showing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VAR, KEY[:-2] + "zz")
    exc = _load_error(env_var=VAR)
    assert "does not hold a private key" in str(exc)
    assert KEY_HEX[:-2] not in str(exc) + repr(exc) + "".join(traceback.format_exception(exc))


def test_keystore_and_password_file_round_trip(keystore: Path, password_file: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VAR, raising=False)
    account = load_account(VAR, keystore=keystore, password_file=password_file)
    assert account.key.hex() == KEY_HEX


def test_password_file_loses_one_trailing_newline_only(keystore: Path, tmp_path: Path) -> None:
    crlf = _private(tmp_path / "crlf", PASSWORD + "\r\n")
    assert load_account(keystore=keystore, password_file=crlf).key.hex() == KEY_HEX
    two = _private(tmp_path / "two", PASSWORD + "\n\n")
    assert "wrong password" in str(_load_error(keystore=keystore, password_file=two))


def test_wrong_password_is_a_key_error(keystore: Path, tmp_path: Path) -> None:
    wrong = _private(tmp_path / "wrong", PASSWORD + "x")
    exc = _load_error(keystore=keystore, password_file=wrong)
    assert "wrong password" in str(exc) and str(keystore) in str(exc)


def test_empty_password_file_is_refused(keystore: Path, tmp_path: Path) -> None:
    empty = _private(tmp_path / "empty", "\n")
    assert "is empty" in str(_load_error(keystore=keystore, password_file=empty))


def test_missing_files_are_named(keystore: Path, password_file: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    assert f"keystore {missing} does not exist" in str(
        _load_error(keystore=missing, password_file=password_file))
    assert f"password file {missing} does not exist" in str(
        _load_error(keystore=keystore, password_file=missing))
    assert "needs a password file" in str(_load_error(keystore=keystore))


@pytest.mark.parametrize(("content", "message"), [
    (b"\x00\xffnot json at all", "is not JSON"),
    (b"[1, 2, 3]", "not an encrypted key"),
    (b'{"version": 3, "address": "00"}', "not an encrypted key"),
    (b'{"version": 3, "crypto": {"cipher": "aes-128-ctr"}}', "malformed"),
], ids=["binary", "list", "no-crypto", "empty-crypto"])
def test_garbage_keystore_is_a_key_error(tmp_path: Path, password_file: Path, content: bytes,
                                         message: str) -> None:
    garbage = _private(tmp_path / "garbage.json", content)
    assert message in str(_load_error(keystore=garbage, password_file=password_file))


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o700])
def test_files_wider_than_0600_are_refused(keystore: Path, password_file: Path, mode: int) -> None:
    keystore.chmod(mode)
    assert "wider than 0600" in str(_load_error(keystore=keystore, password_file=password_file))
    keystore.chmod(0o600)
    password_file.chmod(mode)
    assert "wider than 0600" in str(_load_error(keystore=keystore, password_file=password_file))
    password_file.chmod(0o400)
    assert load_account(keystore=keystore, password_file=password_file).key.hex() == KEY_HEX


def test_a_directory_is_not_a_keystore(tmp_path: Path, password_file: Path) -> None:
    folder = tmp_path / "dir"
    folder.mkdir(mode=0o700)
    assert "not a regular file" in str(_load_error(keystore=folder, password_file=password_file))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_a_key_error(keystore: Path, password_file: Path) -> None:
    password_file.chmod(0o200)
    assert "cannot be read" in str(_load_error(keystore=keystore, password_file=password_file))


def test_dev_account_still_derives_anvil_account_zero() -> None:
    assert dev_account(0).address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
