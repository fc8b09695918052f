"""A lean JSON-RPC over HTTP transport: one kept-alive connection per thread, orjson.

web3's ``HTTPProvider`` costs about 1.2 ms per request here on top of the node's own time (a
bare keep-alive ``http.client`` round trip to anvil takes about 0.3 ms: ``python -m bench
execution``). :class:`~contracts.client.Chain` sends its raw requests through this and keeps
web3 for contract objects.

Errors: a transport failure raises :class:`OSError` (a timeout too), a body that is not JSON
:class:`ValueError`; the caller turns both into the chain errors of :mod:`contracts.client`.
"""

from __future__ import annotations

import http.client
import itertools
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson

_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
#: A kept-alive connection the server closed meanwhile shows up as one of these on reuse.
_STALE = (http.client.RemoteDisconnected, http.client.BadStatusLine, BrokenPipeError, ConnectionResetError)


def _default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return "0x" + bytes(value).hex()
    raise TypeError(f"cannot send a {type(value).__name__} in a JSON-RPC request")


class HttpJsonRpc:
    """POST JSON-RPC requests to ``url`` (http or https) with ``timeout`` seconds per request."""

    def __init__(self, url: str, timeout: float):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) url: {parts.scheme}://{parts.hostname or ''}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._timeout = timeout
        self._local = threading.local()
        self._ids = itertools.count(1)
        self._ids_lock = threading.Lock()

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn, True
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=self._timeout)
        self._local.conn = conn
        return conn, False

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def _post(self, body: bytes) -> Any:
        for _ in range(2):
            conn, reused = self._connection()
            try:
                conn.request("POST", self._path, body, _HEADERS)
                response = conn.getresponse()
                data = response.read()
            except _STALE:
                self._drop()
                if reused:
                    continue  # the server closed the idle connection: once more on a new one
                raise
            except OSError:
                self._drop()
                raise
            except http.client.HTTPException as exc:
                self._drop()
                raise OSError(f"HTTP: {type(exc).__name__}") from exc
            if response.status != 200:
                raise OSError(f"HTTP status {response.status}")
            if response.getheader("Connection", "").lower() == "close":
                self._drop()
            return orjson.loads(data)
        raise OSError("the connection was closed twice in a row")

    def _next_id(self) -> int:
        with self._ids_lock:
            return next(self._ids)

    def request(self, method: str, params: Sequence[Any]) -> Any:
        """One request; the decoded response object (unchecked)."""
        body = orjson.dumps({"jsonrpc": "2.0", "id": self._next_id(), "method": method, "params": list(params)},
                            default=_default)
        return self._post(body)

    def batch(self, requests: Sequence[tuple[str, Sequence[Any]]]) -> Any:
        """Several requests in one POST; the responses in request order (matched by id).

        A single object (an error for the whole batch) is returned as it came.

        Raises
        ------
        ValueError
            The responses do not pair one to one with the requests' ids.
        """
        calls = [{"jsonrpc": "2.0", "id": self._next_id(), "method": m, "params": list(p)} for m, p in requests]
        answer = self._post(orjson.dumps(calls, default=_default))
        if not isinstance(answer, list):
            return answer
        by_id = {r.get("id"): r for r in answer if isinstance(r, dict)}
        if len(answer) != len(calls) or len(by_id) != len(calls) or set(by_id) != {c["id"] for c in calls}:
            raise ValueError("the batch's responses do not pair with its requests")
        return [by_id[c["id"]] for c in calls]
