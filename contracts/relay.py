"""A small private relay for the devnet: ``eth_sendBundle`` in, ``eth_sendRawTransaction`` out.

It speaks the bundle JSON-RPC shape of block builders' relays (Flashbots ``eth_sendBundle``)::

    {"jsonrpc": "2.0", "id": 1, "method": "eth_sendBundle",
     "params": [{"txs": ["0x02f8..."], "blockNumber": "0x1b4",
                 "minTimestamp": 0, "maxTimestamp": 0}]}          (timestamps optional, ignored)
    -> {"jsonrpc": "2.0", "id": 1, "result": {"bundleHash": "0x" + 32 bytes}}

The bundle hash is keccak256 of the bundle's transaction hashes concatenated. A bundle is kept
for its target block and its transactions are forwarded, in bundle order, to the upstream node
(anvil) when that block is the next one:

1. target <= head: the block is already mined; the bundle is dropped (``dropped``).
2. target == head + 1: forwarded at once, before the answer.
3. target > head + 1: held; a poller thread forwards it when the head reaches target - 1, or
   drops it if it finds the head already at or past the target.

The first upstream refusal of a bundle's transaction stops the rest of that bundle (``failed``).
On anvil with automine each forwarded transaction is mined in a block of its own: this relay
delivers bundles to a devnet, it does not build blocks. Bad requests get JSON-RPC errors:
-32700 body not JSON, -32600 not a request object, -32601 unknown method, -32602 bad params
(``rejected``).

Knobs for tests: ``delay_s`` answers every request that much later (nothing is processed
before the delay is over), ``drop`` accepts bundles and never forwards them.

Run one for ``make run`` with ``python -m contracts.relay --upstream http://127.0.0.1:8545``.

Thread-safety: requests are served on threads of their own and the poller on another; the
held bundles and the counters are guarded by one lock.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
from dataclasses import dataclass, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from alphapulse.errors import ChainError
from contracts.client import Chain, redacted
from contracts.keccak import keccak256

log = logging.getLogger("alphapulse.relay")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
#: The largest request body accepted, in bytes.
MAX_BODY = 1 << 20
#: The most transactions one bundle may carry.
MAX_TXS = 100


class BundleRejected(ChainError):
    """A request the relay refuses, with the JSON-RPC error code and id of its answer."""

    kind = "bundle_rejected"

    def __init__(self, code: int, message: str, request_id: Any = None):
        super().__init__(message)
        self.code = code
        self.request_id = request_id


@dataclass
class RelayStats:
    """The relay's counters (bundles unless named otherwise).

    Attributes
    ----------
    received : int
        Well-formed bundles accepted.
    forwarded : int
        Bundles whose every transaction the upstream node accepted.
    forwarded_txs : int
        Transactions the upstream node accepted.
    dropped : int
        Bundles never forwarded: target already mined, or ``drop`` set.
    rejected : int
        Requests answered with a JSON-RPC error.
    failed : int
        Bundles a transaction of which the upstream node refused, or could not be reached for.
    held : int
        Bundles waiting for their target block now.
    """

    received: int = 0
    forwarded: int = 0
    forwarded_txs: int = 0
    dropped: int = 0
    rejected: int = 0
    failed: int = 0
    held: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters by name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _quantity(value: Any, what: str) -> int:
    if not isinstance(value, str) or not value.startswith("0x") or len(value) < 3 or len(value) > 18:
        raise BundleRejected(INVALID_PARAMS, f"{what} must be a hex quantity string, not {str(value)[:40]!r}")
    try:
        return int(value, 16)
    except ValueError:
        raise BundleRejected(INVALID_PARAMS, f"{what} {value[:40]!r} is not hex") from None


def _transaction(value: Any, index: int) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x") or len(value) < 4 or len(value) % 2:
        raise BundleRejected(INVALID_PARAMS, f"txs[{index}] must be a non-empty 0x-hex string")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise BundleRejected(INVALID_PARAMS, f"txs[{index}] is not hex") from None


def parse_bundle(params: Any) -> tuple[list[bytes], int]:
    """The raw transactions and the target block of ``eth_sendBundle`` params.

    Raises
    ------
    BundleRejected
        The params are not ``[{"txs": [hex, ...], "blockNumber": hex, ...}]`` (code -32602).
    """
    if not isinstance(params, list) or len(params) != 1 or not isinstance(params[0], dict):
        raise BundleRejected(INVALID_PARAMS, "params must be a list of one bundle object")
    bundle = params[0]
    txs = bundle.get("txs")
    if not isinstance(txs, list) or not 0 < len(txs) <= MAX_TXS:
        raise BundleRejected(INVALID_PARAMS, f"txs must be a list of 1 to {MAX_TXS} transactions")
    if "blockNumber" not in bundle:
        raise BundleRejected(INVALID_PARAMS, "blockNumber is missing")
    target = _quantity(bundle["blockNumber"], "blockNumber")
    for name in ("minTimestamp", "maxTimestamp"):
        stamp = bundle.get(name, 0)
        if not isinstance(stamp, int) or isinstance(stamp, bool) or stamp < 0:
            raise BundleRejected(INVALID_PARAMS, f"{name} must be a non-negative integer")
    return [_transaction(tx, i) for i, tx in enumerate(txs)], target


def parse_request(body: bytes) -> tuple[Any, list[bytes], int]:
    """The id, raw transactions and target block of one ``eth_sendBundle`` request body.

    Raises
    ------
    BundleRejected
        The body is not JSON (-32700), not a request object (-32600), asks another method
        (-32601) or has bad params (-32602); its ``request_id`` is the request's id if known.
    """
    try:
        request = json.loads(body)
    except ValueError:
        raise BundleRejected(PARSE_ERROR, "the body is not JSON") from None
    if not isinstance(request, dict) or not isinstance(request.get("method"), str):
        raise BundleRejected(INVALID_REQUEST, "the request is not a JSON-RPC request object")
    request_id = request.get("id")
    if request["method"] != "eth_sendBundle":
        raise BundleRejected(METHOD_NOT_FOUND, f"method {request['method'][:60]!r} not found", request_id)
    try:
        txs, target = parse_bundle(request.get("params"))
    except BundleRejected as exc:
        exc.request_id = request_id
        raise
    return request_id, txs, target


class RelayServer:
    """The local relay: a threaded HTTP JSON-RPC server in front of an upstream node.

    Parameters
    ----------
    upstream
        HTTP JSON-RPC url of the node the bundles go to.
    host, port
        Where to listen; port 0 lets the kernel choose (see :attr:`url`).
    delay_s
        Seconds every request waits before it is processed and answered.
    drop
        Accept bundles, never forward them.
    poll_s
        How often the poller asks the upstream node for its head while bundles are held.
    """

    def __init__(self, upstream: str, *, host: str = "127.0.0.1", port: int = 0, delay_s: float = 0.0,
                 drop: bool = False, poll_s: float = 0.02):
        self.upstream = upstream
        self.delay_s = delay_s
        self.drop = drop
        self.poll_s = poll_s
        self.stats = RelayStats()
        self._lock = threading.Lock()
        self._held: dict[int, list[list[bytes]]] = {}
        self._stop = threading.Event()
        self._chain: Chain | None = None
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        # Handler threads are joined on close: none forwards after stop() returns.
        self._server.daemon_threads = False
        self._server.block_on_close = True
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        """``http://host:port`` the relay listens on."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> RelayServer:
        """Connect to the upstream node and serve on background threads; returns self.

        Raises
        ------
        ChainError
            The upstream node does not answer (the listening socket is closed).
        """
        try:
            self._chain = Chain(self.upstream, timeout=5.0)
        except ChainError:
            self._server.server_close()
            raise
        self._threads = [threading.Thread(target=self._server.serve_forever, args=(0.05,), name="relay-http",
                                         daemon=True),
                         threading.Thread(target=self._poll, name="relay-poller", daemon=True)]
        for thread in self._threads:
            thread.start()
        log.info("relay on %s forwarding to %s", self.url, redacted(self.upstream))
        return self

    def stop(self) -> None:
        """Stop serving and polling, close the socket (held bundles are forgotten).

        Waits for the requests being answered; a delayed one is cut short and processes nothing.
        """
        self._stop.set()
        if self._threads:
            self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def __enter__(self) -> RelayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- requests -------------------------------------------------------------------------------

    def answer(self, body: bytes) -> dict[str, Any]:
        """The JSON-RPC response object to one request body."""
        if self._stop.wait(self.delay_s) if self.delay_s > 0 else self._stop.is_set():
            return {"jsonrpc": "2.0", "id": None, "error": {"code": -32000, "message": "relay stopping"}}
        try:
            request_id, txs, target = parse_request(body)
        except BundleRejected as exc:
            with self._lock:
                self.stats.rejected += 1
            return {"jsonrpc": "2.0", "id": exc.request_id,
                    "error": {"code": exc.code, "message": str(exc)}}
        bundle_hash = keccak256(b"".join(keccak256(tx) for tx in txs))
        self._accept(txs, target)
        return {"jsonrpc": "2.0", "id": request_id, "result": {"bundleHash": "0x" + bundle_hash.hex()}}

    def _accept(self, txs: list[bytes], target: int) -> None:
        with self._lock:
            self.stats.received += 1
            if self.drop:
                self.stats.dropped += 1
                return
        head = self._head()
        if head is None:
            with self._lock:
                self.stats.failed += 1
            return
        if target <= head:
            with self._lock:
                self.stats.dropped += 1
        elif target == head + 1:
            self._forward(txs)
        else:
            with self._lock:
                self._held.setdefault(target, []).append(txs)
                self.stats.held += 1

    # -- upstream -------------------------------------------------------------------------------

    def _head(self) -> int | None:
        assert self._chain is not None, "start() the relay first"
        try:
            return self._chain.block_number()
        except ChainError as exc:
            log.warning("relay: upstream head unknown: %s", exc)
            return None

    def _forward(self, txs: list[bytes]) -> None:
        """Send one bundle's transactions upstream in order; stop at the first refusal."""
        assert self._chain is not None, "start() the relay first"
        for raw in txs:
            try:
                self._chain.rpc("eth_sendRawTransaction", ["0x" + raw.hex()])
            except ChainError as exc:
                log.warning("relay: upstream refused 0x%s: %s", keccak256(raw).hex(), exc)
                with self._lock:
                    self.stats.failed += 1
                return
            with self._lock:
                self.stats.forwarded_txs += 1
        with self._lock:
            self.stats.forwarded += 1

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.poll_once()

    def poll_once(self) -> None:
        """One pass of the poller: forward the held bundles whose block is next, drop those
        whose block has passed (the poller thread calls it every ``poll_s`` seconds)."""
        with self._lock:
            if not self._held:
                return
        head = self._head()
        if head is None:
            return
        due: list[list[bytes]] = []
        with self._lock:
            for target in [t for t in self._held if t <= head + 1]:
                bundles = self._held.pop(target)
                self.stats.held -= len(bundles)
                if target == head + 1:
                    due.extend(bundles)
                else:
                    self.stats.dropped += len(bundles)
        for txs in due:
            self._forward(txs)


def _handler(relay: RelayServer) -> type[BaseHTTPRequestHandler]:
    """The request handler class bound to ``relay``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            try:
                size = int(self.headers.get("Content-Length", ""))
            except ValueError:
                size = -1
            if not 0 <= size <= MAX_BODY:
                with relay._lock:
                    relay.stats.rejected += 1
                body = {"jsonrpc": "2.0", "id": None,
                        "error": {"code": INVALID_REQUEST, "message": f"body length must be 0 to {MAX_BODY}"}}
                self.close_connection = True
            else:
                body = relay.answer(self.rfile.read(size))
            payload = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("relay http: " + format, *args)

    return Handler


def main(argv: list[str] | None = None) -> int:
    """Serve a relay until interrupted (``python -m contracts.relay --upstream URL``)."""
    parser = argparse.ArgumentParser(prog="python -m contracts.relay", description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", default="http://127.0.0.1:8545", help="node the bundles go to")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8550)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        relay = RelayServer(args.upstream, host=args.host, port=args.port).start()
    except (ChainError, OSError) as exc:
        log.error("relay: %s", exc)  # noqa: TRY400 - one line, no traceback
        return 2
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        relay.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
