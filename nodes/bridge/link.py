"""The bridge's tcp link: CURVE on its own context, and the link's events counted.

Each bridge node opens a ZeroMQ context of its own for the link, so its ZAP handler never
meets the mesh's (one per context) and the link is CURVE whatever the host's ``[mesh] curve``
says. Keys are the mesh's key files (:mod:`mesh.security`, ``alphapulse keys generate``):

* ``bridge-out`` is the CURVE server with its own key pair (``<key>.key_secret``); its ZAP
  handler admits only clients whose public key file is in its ``keys_dir``;
* ``bridge-in`` is a CURVE client with its own key pair, pinning the server's listed public
  key (``<server_key>.key``), so a publisher without that key is never heard.

:class:`LinkEvents` reads the socket's monitor: handshakes refused (a client's key not listed)
or failed (a client pinning another server key: the server cannot read its hello, the client
sees only a disconnection), connections lost (a reconnect can drop what was queued). Not thread-safe: used by the node's loop thread.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from pathlib import Path

import zmq
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils.monitor import recv_monitor_message

from mesh.security import load_pair, load_public

#: Monitor events -> the ``event`` label they are counted under.
EVENTS: dict[int, str] = {
    int(zmq.EVENT_HANDSHAKE_SUCCEEDED): "handshake_ok",
    int(zmq.EVENT_HANDSHAKE_FAILED_AUTH): "handshake_refused",
    int(zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL): "handshake_failed",
    int(zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL): "handshake_failed",
    int(zmq.EVENT_DISCONNECTED): "disconnected",
}


class LinkKeys:
    """One bridge's key pair in ``keys_dir``, as a CURVE server or client."""

    def __init__(self, keys_dir: Path, name: str) -> None:
        self.keys_dir = keys_dir
        self.public, self._secret = load_pair(keys_dir, name)
        self.auth: ThreadAuthenticator | None = None

    def serve(self, ctx: zmq.Context, sock: zmq.Socket) -> None:
        """Start ``ctx``'s ZAP handler (listed keys only); make ``sock`` a CURVE server."""
        self.auth = ThreadAuthenticator(ctx)
        self.auth.start()
        self.auth.configure_curve(domain="*", location=str(self.keys_dir))
        sock.curve_secretkey = self._secret
        sock.curve_publickey = self.public
        sock.curve_server = True

    def client(self, sock: zmq.Socket, server_key: str) -> None:
        """Make ``sock`` a CURVE client pinned to ``server_key``'s listed public key."""
        sock.curve_secretkey = self._secret
        sock.curve_publickey = self.public
        sock.curve_serverkey = load_public(self.keys_dir, server_key)

    def close(self) -> None:
        """Stop the ZAP handler, if any."""
        if self.auth is not None:
            self.auth.stop()
            self.auth = None


class LinkEvents:
    """Counts of a socket's monitor events by label (:data:`EVENTS`)."""

    def __init__(self, sock: zmq.Socket) -> None:
        self.counts: Counter[str] = Counter()
        self._sock = sock
        self._mon = sock.get_monitor_socket(sum(EVENTS))

    def poll(self) -> int:
        """Read every pending event; return how many."""
        n = 0
        while self._mon.poll(0):
            try:
                event = recv_monitor_message(self._mon, zmq.NOBLOCK)
            except zmq.Again:
                break
            label = EVENTS.get(int(event["event"]))
            if label is not None:
                self.counts[label] += 1
            n += 1
        return n

    def close(self) -> None:
        """Stop monitoring and close the monitor socket."""
        with contextlib.suppress(zmq.ZMQError):
            self._sock.disable_monitor()
        self._mon.close(0)
