"""The operator token of stop and resume: ``RUN_DIR/dashboard.token``, mode 0600.

Created (32 random bytes, hex) if missing; read once at start. Compared in constant time. The
page never carries it: the operator pastes it, the page keeps it in sessionStorage.
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
from pathlib import Path

from alphapulse.errors import ConfigError

TOKEN_FILE = "dashboard.token"


def token_path(run_dir: str | os.PathLike[str]) -> Path:
    """Where the token of the mesh whose run directory is ``run_dir`` lives."""
    return Path(run_dir) / TOKEN_FILE


def load_or_create(run_dir: str | os.PathLike[str]) -> str:
    """The token in ``run_dir``, created 0600 if missing.

    Raises
    ------
    ConfigError
        The file is readable by others than its owner, empty, or cannot be read or made.
    """
    path = token_path(run_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32) + "\n")
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"{path} is open to others (mode {stat.S_IMODE(mode):o}); "
                              "chmod 600 it")
        token = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"token file {path}: {exc.strerror or exc}") from None
    if len(token) < 16:
        raise ConfigError(f"{path} holds no token (16 characters at least)")
    return token


def token_matches(expected: str, header: str | None) -> bool:
    """Whether an ``Authorization`` header value is ``Bearer <expected>`` (constant time)."""
    if not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[7:].strip().encode(), expected.encode())
