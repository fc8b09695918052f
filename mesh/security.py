"""CURVE security for tcp endpoints: key files, socket settings, a ZAP authenticator.

Key files live in ``keys_dir`` (default ``<run_dir>/keys``): ``NAME.key`` (public) and
``NAME.key_secret`` (secret, mode 0600), in the ZeroMQ certificate format written by
``alphapulse keys generate NAME``. A public key file present in ``keys_dir`` *is* the listing:

* a node binding a tcp endpoint is a CURVE server with its own key pair, and its ZAP
  authenticator (``zmq.auth.thread.ThreadAuthenticator``) admits only clients whose public key
  is listed;
* a subscriber connecting to node ``N`` over tcp pins ``N``'s listed public key as the server
  key, so a publisher without the listed key fails the handshake and is never heard.

ZeroMQ fixes the security mechanism per socket, so with ``curve = true`` every endpoint of
the mesh (ipc ones too) uses CURVE; ipc alone (one host) may leave it off.
Secret keys are never logged. Thread-safety: a :class:`Security` is used by the thread that
owns the sockets; the authenticator runs its own thread.
"""

from __future__ import annotations

import os
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from alphapulse.errors import MeshError
from mesh.config import MeshConfig


class KeyError_(MeshError):
    """A CURVE key file that is missing, unreadable or too widely readable."""

    kind = "curve_key"


def generate_keys(keys_dir: str | os.PathLike[str], name: str, *, force: bool = False
                  ) -> tuple[Path, Path]:
    """Create ``name``'s key pair in ``keys_dir`` (directory 0700, secret file 0600).

    Raises
    ------
    KeyError_
        The files exist and ``force`` is not set.
    """
    d = Path(keys_dir)
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    public, secret = d / f"{name}.key", d / f"{name}.key_secret"
    if not force and (public.exists() or secret.exists()):
        raise KeyError_(f"keys for {name} already exist in {d} (use --force to replace)")
    old = os.umask(0o077)
    try:
        pub_file, sec_file = zmq.auth.create_certificates(str(d), name)
    finally:
        os.umask(old)
    os.chmod(sec_file, 0o600)
    os.chmod(pub_file, 0o644)
    return Path(pub_file), Path(sec_file)


def load_public(keys_dir: Path, name: str) -> bytes:
    """The listed public key of ``name``."""
    path = keys_dir / f"{name}.key"
    try:
        public, _ = zmq.auth.load_certificate(str(path))
    except (OSError, ValueError) as exc:
        raise KeyError_(f"no listed public key for {name} ({path}): {exc}") from exc
    return public


def load_pair(keys_dir: Path, name: str) -> tuple[bytes, bytes]:
    """``name``'s (public, secret) pair; refuses a secret file readable by others."""
    path = keys_dir / f"{name}.key_secret"
    try:
        if os.stat(path).st_mode & 0o077:
            raise KeyError_(f"{path} is readable by group or others; chmod 600 it")
        public, secret = zmq.auth.load_certificate(str(path))
    except (OSError, ValueError) as exc:
        raise KeyError_(f"cannot load the key pair of {name} ({path}): {exc}") from exc
    if secret is None:
        raise KeyError_(f"{path} holds no secret key")
    return public, secret


class Security:
    """CURVE settings for one process acting as node ``name``.

    Parameters
    ----------
    cfg : MeshConfig
    name : str
        Identity whose key pair this process uses (a node, or e.g. ``operator`` for tools).
    """

    def __init__(self, cfg: MeshConfig, name: str) -> None:
        self.keys_dir = cfg.keys_path
        self.name = name
        self.public, self._secret = load_pair(self.keys_dir, name)
        self.auth: ThreadAuthenticator | None = None

    def start_authenticator(self, ctx: zmq.Context) -> None:
        """Start the ZAP handler admitting only the listed public keys."""
        self.auth = ThreadAuthenticator(ctx)
        self.auth.start()
        self.auth.configure_curve(domain="*", location=str(self.keys_dir))

    def stop_authenticator(self) -> None:
        """Stop the ZAP handler thread."""
        if self.auth is not None:
            self.auth.stop()
            self.auth = None

    def server(self, sock: zmq.Socket, endpoint: str | None = None) -> None:
        """Make ``sock`` a CURVE server (call before it binds)."""
        sock.curve_secretkey = self._secret
        sock.curve_publickey = self.public
        sock.curve_server = True

    def client(self, sock: zmq.Socket, server_name: str, endpoint: str) -> None:
        """Make ``sock`` a CURVE client pinned to ``server_name``'s listed key (before connect).

        Options are copied at each ``connect``, so one SUB socket may pin a different server
        key for each publisher it connects to.
        """
        sock.curve_secretkey = self._secret
        sock.curve_publickey = self.public
        sock.curve_serverkey = load_public(self.keys_dir, server_name)
