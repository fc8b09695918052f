"""Pluggable submission of signed transactions: the public mempool, or a private relay with a
fallback to the public mempool.

:class:`PublicSubmitter` sends with ``eth_sendRawTransaction`` (:meth:`contracts.client.Chain.send_raw`,
which checks that the node answers the transaction's own hash). :class:`RelaySubmitter` posts
the transaction as a one-transaction bundle for a target block (``eth_sendBundle``, the
block builders' bundle JSON-RPC, see :mod:`contracts.relay`) and, when the relay answers with
an error, answers malformed or does not answer within its timeout, sends it publicly at once
(path ``RELAY_THEN_PUBLIC``). The executor calls :meth:`RelaySubmitter.fallback` when a relayed
transaction was not included by its target block. The same signed bytes travel either way, so
at most one of them can be mined.

Every call blocks on the network: the executor runs them on its offload thread. Failures are
:class:`SubmitError` with a ``kind`` from :data:`ERROR_KINDS`, counted in ``counts`` beside the
paths taken; messages name a transaction by its hash only.

Thread-safety: a submitter may be shared by threads (its counters are guarded by a lock).
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from typing import Any, Protocol

from alphapulse.errors import ChainError, ConfigError
from contracts.answers import BadRpcAnswer, RpcError
from contracts.client import Chain, ChainUnreachable, redacted
from contracts.keccak import keccak256
from mesh.protocol.constants import SubmitPath

log = logging.getLogger("alphapulse.executor.submit")

#: Every :attr:`SubmitError.kind`: the relay's (counted, then the public path is tried) and the
#: public path's (raised).
ERROR_KINDS = ("relay_timeout", "relay_unreachable", "relay_error", "relay_bad_answer",
               "public_refused", "public_unreachable", "public_bad_answer")
#: Node messages that mean it already holds this very transaction: the send succeeded before.
_ALREADY_KNOWN = ("already known", "already imported")
#: The kinds :func:`make_submitter` accepts (the executor's ``submit`` setting).
SUBMIT_KINDS = ("public", "relay")


class SubmitError(ChainError):
    """A transaction that could not be handed to the chain by a submission path.

    Attributes
    ----------
    kind : str
        One of :data:`ERROR_KINDS`.
    maybe_sent : bool
        The transaction may have reached the node anyway (no answer, or a malformed one):
        watch for its receipt before signing another with the same nonce.
    """

    kind = "submit"

    def __init__(self, kind: str, message: str, *, maybe_sent: bool = False):
        super().__init__(message)
        self.kind = kind
        self.maybe_sent = maybe_sent


@dataclass(frozen=True, slots=True)
class Submission:
    """A transaction handed to the chain.

    Attributes
    ----------
    tx_hash : bytes
        keccak256 of the raw transaction.
    path : SubmitPath
        PUBLIC, RELAY, or RELAY_THEN_PUBLIC (the relay failed or the target block passed).
    bundle_hash : bytes
        The relay's bundle hash (RELAY only), else empty.
    relay_error : str
        Kind of the relay failure that sent it public, else empty.
    """

    tx_hash: bytes
    path: SubmitPath
    bundle_hash: bytes = b""
    relay_error: str = ""


class Submitter(Protocol):
    """What the executor needs of a submission path."""

    counts: Counter[str]

    def submit(self, raw: bytes, target_block: int) -> Submission:
        """Hand ``raw`` to the chain for inclusion in ``target_block``."""
        ...

    def fallback(self, raw: bytes) -> Submission:
        """Send ``raw`` publicly (its relayed submission missed its target block)."""
        ...


class _Counted:
    """Counters by name, shared by threads."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._count_lock = threading.Lock()

    def _count(self, name: str) -> None:
        with self._count_lock:
            self.counts[name] += 1


class PublicSubmitter(_Counted):
    """Submission to the public mempool with ``eth_sendRawTransaction``.

    Parameters
    ----------
    chain
        The chain client whose node receives the transactions.
    """

    def __init__(self, chain: Chain):
        super().__init__()
        self.chain = chain

    def send(self, raw: bytes) -> bytes:
        """Send ``raw``; returns its hash. A node that already holds it counts as accepted.

        Raises
        ------
        SubmitError
            ``public_refused`` (the node said no: nonce, fees, balance...; not sent),
            ``public_unreachable`` or ``public_bad_answer`` (``maybe_sent``).
        """
        tx_hash = keccak256(raw)
        try:
            self.chain.send_raw(raw)
        except RpcError as exc:
            if any(text in exc.rpc_message.lower() for text in _ALREADY_KNOWN):
                self._count("public_known")
                return tx_hash
            self._count("public_refused")
            raise SubmitError("public_refused", f"0x{tx_hash.hex()} refused: {exc.rpc_message}") from exc
        except ChainUnreachable as exc:
            self._count("public_unreachable")
            raise SubmitError("public_unreachable", f"0x{tx_hash.hex()}: {exc}", maybe_sent=True) from exc
        except BadRpcAnswer as exc:
            self._count("public_bad_answer")
            raise SubmitError("public_bad_answer", f"0x{tx_hash.hex()}: {exc}", maybe_sent=True) from exc
        self._count("public")
        return tx_hash

    def submit(self, raw: bytes, target_block: int = 0) -> Submission:
        """Send ``raw`` publicly (``target_block`` is unused: the mempool has no target)."""
        return Submission(self.send(raw), SubmitPath.PUBLIC)

    def fallback(self, raw: bytes) -> Submission:
        """Send ``raw`` publicly again (harmless if the node already holds it)."""
        return self.submit(raw)


class RelaySubmitter(_Counted):
    """Submission as a bundle to a private relay, public at once when the relay fails.

    Parameters
    ----------
    relay_url
        HTTP JSON-RPC url of the relay (``eth_sendBundle``).
    public
        The public path used as the fallback.
    timeout_s
        Seconds the relay has to answer.
    """

    def __init__(self, relay_url: str, public: PublicSubmitter, timeout_s: float):
        super().__init__()
        self.relay_url = relay_url
        self.public = public
        self.timeout_s = timeout_s
        self._ids = iter(range(1, 2**62))

    def submit(self, raw: bytes, target_block: int) -> Submission:
        """Send ``raw`` as a bundle for ``target_block``; publicly at once if the relay fails.

        Raises
        ------
        SubmitError
            The relay failed (counted) and then the public path failed too.
        """
        try:
            bundle_hash = self.send_bundle([raw], target_block)
        except SubmitError as exc:
            self._count(exc.kind)
            self._count("fallback")
            log.warning("relay failed (%s) for 0x%s: sending publicly", exc, keccak256(raw).hex())
            return Submission(self.public.send(raw), SubmitPath.RELAY_THEN_PUBLIC, relay_error=exc.kind)
        self._count("relayed")
        return Submission(keccak256(raw), SubmitPath.RELAY, bundle_hash)

    def fallback(self, raw: bytes) -> Submission:
        """Send ``raw`` publicly: its bundle was not included by the target block."""
        self._count("fallback")
        return Submission(self.public.send(raw), SubmitPath.RELAY_THEN_PUBLIC, relay_error="not_included")

    def send_bundle(self, txs: list[bytes], target_block: int) -> bytes:
        """Post ``eth_sendBundle`` for ``target_block``; returns the relay's bundle hash.

        Raises
        ------
        SubmitError
            ``relay_timeout``, ``relay_unreachable``, ``relay_error`` (an error answer or an
            HTTP error status) or ``relay_bad_answer`` (not a bundle hash).
        """
        request_id = next(self._ids)
        body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "eth_sendBundle",
                           "params": [{"txs": ["0x" + tx.hex() for tx in txs],
                                       "blockNumber": hex(target_block)}]}).encode()
        answer = self._post(body)
        if not isinstance(answer, dict) or answer.get("id") != request_id:
            raise SubmitError("relay_bad_answer", "relay: the answer is not a response to the request")
        if "error" in answer:
            error = answer["error"]
            code, message = (error.get("code"), str(error.get("message"))[:200]) if isinstance(error, dict) \
                else (None, str(error)[:200])
            raise SubmitError("relay_error", f"relay: {message} (code {code})")
        result = answer.get("result")
        bundle_hash = result.get("bundleHash") if isinstance(result, dict) else None
        if not isinstance(bundle_hash, str) or len(bundle_hash) != 66 or not bundle_hash.startswith("0x"):
            raise SubmitError("relay_bad_answer", f"relay: no bundle hash in {str(result)[:100]!r}")
        try:
            return bytes.fromhex(bundle_hash[2:])
        except ValueError:
            raise SubmitError("relay_bad_answer", f"relay: bundle hash {bundle_hash!r} is not hex") from None

    def _post(self, body: bytes) -> Any:
        """POST ``body`` to the relay; returns the decoded JSON answer."""
        where = redacted(self.relay_url)
        request = urllib.request.Request(self.relay_url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raise SubmitError("relay_error", f"relay {where}: HTTP {exc.code}") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise SubmitError("relay_timeout", f"relay {where}: no answer in {self.timeout_s:g} s",
                                  maybe_sent=True) from None
            raise SubmitError("relay_unreachable", f"relay {where}: {exc.reason}") from None
        except TimeoutError:
            raise SubmitError("relay_timeout", f"relay {where}: no answer in {self.timeout_s:g} s",
                              maybe_sent=True) from None
        except (OSError, http.client.HTTPException) as exc:
            raise SubmitError("relay_unreachable", f"relay {where}: {type(exc).__name__}",
                              maybe_sent=True) from None
        try:
            return json.loads(payload)
        except ValueError:
            raise SubmitError("relay_bad_answer", f"relay {where}: the answer is not JSON") from None


def make_submitter(kind: str, chain: Chain, relay_url: str = "", timeout_s: float = 0.5) -> Submitter:
    """The submission path the executor's ``submit`` setting names.

    Parameters
    ----------
    kind
        ``"public"`` or ``"relay"`` (:data:`SUBMIT_KINDS`).
    chain
        Chain client for the public path (also the relay's fallback).
    relay_url
        The relay's url; required for ``"relay"``.
    timeout_s
        Seconds the relay has to answer before the public fallback.

    Raises
    ------
    ConfigError
        Unknown kind, relay without a url, or a timeout that is not positive.
    """
    public = PublicSubmitter(chain)
    if kind == "public":
        return public
    if kind != "relay":
        raise ConfigError(f"submit must be one of {', '.join(SUBMIT_KINDS)}, not {kind!r}")
    if not relay_url.startswith(("http://", "https://")):
        raise ConfigError(f"submit = relay needs an http(s) relay url, not {redacted(relay_url) if relay_url else '(none)'}")
    if not timeout_s > 0:
        raise ConfigError(f"the relay timeout must be positive, not {timeout_s!r}")
    return RelaySubmitter(relay_url, public, timeout_s)
