"""Helpers for the chain-client tests: a bare anvil (no market) and a scriptable fake JSON-RPC node."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from alphapulse.ports import free_port
from contracts.anvil import PortInUse, start_anvil, stop_anvil
from contracts.npm import own_artifact


@contextmanager
def running_anvil(**options: Any) -> Iterator[str]:
    """Run a bare anvil on a free port; yields its HTTP url; always stops it."""
    for _ in range(5):
        port = free_port()
        try:
            proc = start_anvil(port, **options)
            break
        except PortInUse:
            continue
    else:
        raise PortInUse("no free port for anvil after 5 tries")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_anvil(proc)


def deploy_token(chain: Any) -> Any:
    """Deploy the test ERC-20 and return its web3 contract object."""
    art = own_artifact("TestERC20")
    return chain.contract(chain.deploy(art["abi"], art["bytecode"], "Test", "TST", 18), art["abi"])


Answer = Callable[[list], Any]


class FakeNode:
    """A JSON-RPC node on loopback that answers each method as the test scripts it.

    ``answers[method]`` is either a JSON-able ``result`` or a callable of the params returning
    the whole response object (to send errors or malformed envelopes); ``raw`` replaces the
    whole HTTP body of every answer; ``batch`` maps a batch request to its whole answer (by
    default each request answered in turn). ``calls`` records the methods asked.
    """

    def __init__(self) -> None:
        self.answers: dict[str, Any] = {"eth_chainId": "0x7a69"}
        self.raw: bytes | None = None
        self.calls: list[str] = []
        self.batch: Callable[[list], Any] = lambda requests: [self.answer(r) for r in requests]
        node = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if isinstance(request, list):  # a batch: ``batch`` scripts the whole answer
                    node.calls.append("batch")
                    body = json.dumps(node.batch(request)).encode()
                else:
                    node.calls.append(request["method"])
                    body = node.raw if node.raw is not None and request["method"] != "eth_chainId" \
                        else json.dumps(node.answer(request)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)

    def answer(self, request: dict) -> Any:
        """The response object for one request."""
        scripted = self.answers.get(request["method"])
        if callable(scripted):
            return scripted(request["params"])
        if request["method"] not in self.answers:
            return {"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32601, "message": "no such method"}}
        return {"jsonrpc": "2.0", "id": request["id"], "result": scripted}

    def __enter__(self) -> FakeNode:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
