"""The executor without the node: admit (no network), execute (simulate, bid, sign, send), track
receipts and settle. Tests and the bench drive it directly; the node runs ``admit`` and
``settle`` on its loop thread and the blocking steps on ``rt.offload`` threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from alphapulse.errors import ChainError
from contracts.arbitrage import MAX_AMOUNT, arbitrage_events, execute_calldata
from contracts.client import Chain, RpcError
from contracts.reverts import Reverted
from mesh.protocol import ArbitrageOpportunity
from mesh.protocol.constants import ExecutionStatus, RejectReason, RevertReason, SubmitPath
from mesh.protocol.messages import ArbitrageRoute
from nodes.executor.journal import Journal
from nodes.executor.nonces import NonceManager
from nodes.executor.policy import Policy
from nodes.executor.results import REFUSAL_REVERTS, Job, frame_of, gas_in_token, revert_reason
from nodes.executor.validate import Bid, HeadView, Refused, bid, check_limits, check_shape


class Signer(Protocol):
    """Signs EIP-1559 transactions; ``sign`` returns an object with ``raw`` and ``tx_hash``."""

    address: str

    def sign(self, *, nonce: int, gas: int, max_fee: int, priority_fee: int, to: str, data: bytes,
             value: int = 0) -> Any: ...


class Submitter(Protocol):
    """Sends a signed transaction (see nodes/executor/submit.py)."""

    def submit(self, raw: bytes, target_block: int) -> Any: ...

    def fallback(self, raw: bytes) -> Any: ...


#: Fee bump of a replacement: nodes require at least +10 % on both the cap and the tip.
BUMP_PCT = 13


def _bumped(fee: int) -> int:
    return fee * (100 + BUMP_PCT) // 100 + 1


class Executor:
    """Executes opportunities through FlashArbitrage at ``arbitrage`` from ``signer``'s account.

    Parameters
    ----------
    chain : Chain
        JSON-RPC client (thread-safe for calls).
    arbitrage : web3 contract
        FlashArbitrage (its ABI encodes ``execute``).
    policy, journal, signer, submitter
        See their modules.
    halted : callable
        True while trading must stop (kill flag, latched stop, dead man's switch); asked before
        signing and again right before sending.
    max_in_flight : int
        Most transactions sent and not settled.
    replace_attempts : int
        Fee bumps of a transaction that missed its block while still valid; then it is cancelled.
    """

    def __init__(self, chain: Chain, arbitrage: Any, policy: Policy, journal: Journal, signer: Signer,
                 submitter: Submitter, halted: Callable[[], bool], *, max_in_flight: int = 8,
                 replace_attempts: int = 1):
        self.chain = chain
        self.arb = arbitrage
        self.policy = policy
        self.journal = journal
        self.signer = signer
        self.submitter = submitter
        self.halted = halted
        self.max_in_flight = max_in_flight
        self.replace_attempts = replace_attempts
        self.head: HeadView | None = None
        self.in_flight: dict[int, Job] = {}
        self.working = 0  # jobs between admit and sent/refused
        self.working_jobs: dict[int, Job] = {}
        #: Pools of the jobs admitted and not settled: one trade per pool at a time, since two
        #: trades through one pool in one block would see each other's prices (the node checks
        #: receipts on each new block before the next opportunities leave their batch).
        self.busy_pools: dict[str, int] = {}
        self.nonces = NonceManager(lambda: int(chain.rpc("eth_getTransactionCount", [signer.address, "pending"]), 16))
        self._journal_lock = threading.Lock()

    # -- loop thread ------------------------------------------------------------------------

    def admit(self, opp: ArbitrageOpportunity, route: ArbitrageRoute, frame: bytes, received_ns: int,
              detected_ns: int = 0) -> Job:
        """Validate and claim an opportunity (no network); raises :class:`Refused`."""
        trade = check_shape(opp, route, self.policy)
        job = Job(opp, route, trade, frame, received_ns, detected_ns)
        check_limits(opp, trade, self.policy, self.head, time.time_ns())
        if len(self.in_flight) + self.working >= self.max_in_flight:
            raise Refused(RejectReason.IN_FLIGHT_LIMIT, f"{self.max_in_flight} transactions in flight")
        oid = opp.opportunity_id
        with self._journal_lock:
            known = self.journal.known(oid)
        if known or oid in self.in_flight or oid in self.working_jobs:
            raise Refused(RejectReason.DUPLICATE, f"opportunity {oid} was claimed before")
        pools = [h.pool.lower() for h in trade.hops]
        if any(p in self.busy_pools for p in pools):
            raise Refused(RejectReason.CONFLICT, "a transaction in flight trades one of its pools")
        with self._journal_lock:
            if not self.journal.claim(opp.opportunity_id, received_ns, frame):
                raise Refused(RejectReason.DUPLICATE, f"opportunity {opp.opportunity_id} was claimed before")
        job.validated_ns = time.time_ns()
        self.working += 1
        self.working_jobs[job.oid] = job
        for p in pools:
            self.busy_pools[p] = self.busy_pools.get(p, 0) + 1
        return job

    def release(self, job: Job) -> None:
        """The job's pools are free again (it settled or was refused after :meth:`admit`)."""
        for hop in job.trade.hops:
            p = hop.pool.lower()
            left = self.busy_pools.get(p, 0) - 1
            if left > 0:
                self.busy_pools[p] = left
            else:
                self.busy_pools.pop(p, None)

    def admit_known(self, opp: ArbitrageOpportunity, route: ArbitrageRoute, frame: bytes) -> Job:
        """A job for an opportunity claimed by an earlier run (from the journal; shape checked only)."""
        return Job(opp, route, check_shape(opp, route, self.policy), frame, time.time_ns())

    def refusal(self, job: Job | None, opp: ArbitrageOpportunity, route: ArbitrageRoute | None,
                exc: Refused, received_ns: int, frame: bytes = b"") -> list:
        """The REJECTED (or SUBMIT_FAILED) frame for a refusal (``frame``: the opportunity's, for
        its trace, when there is no job yet)."""
        if job is None:
            job = Job(opp, route or ArbitrageRoute(opportunity_id=opp.opportunity_id), None, frame,  # type: ignore[arg-type]
                      received_ns)
        status = ExecutionStatus.SUBMIT_FAILED if exc.reason == RejectReason.SEND_FAILED else ExecutionStatus.REJECTED
        if job.trade is not None and exc.reason != RejectReason.DUPLICATE:
            self.working_jobs.pop(job.oid, None)
            self.release(job)
            with self._journal_lock:
                self.journal.settled(job.oid, int(status))
        return frame_of(job, status, revert=REFUSAL_REVERTS.get(exc.reason, revert_reason(None)),
                        reject=exc.reason, error=str(exc))

    def sent(self, job: Job) -> list:
        """Book a sent transaction in flight; the SUBMITTED frame."""
        self.working_jobs.pop(job.oid, None)
        self.in_flight[job.oid] = job
        return frame_of(job, ExecutionStatus.SUBMITTED)

    # -- worker threads -------------------------------------------------------------------

    def execute(self, job: Job) -> Job:
        """Simulate, bid, sign and send one admitted job (blocking); raises :class:`Refused`."""
        head = self.head
        assert head is not None  # admit checked it
        job.gross = self.simulate(job)
        job.simulated_ns = time.time_ns()
        job.bid = bid(job.opp, job.route, self.policy, head, job.gross)
        job.target_block = head.number + 1
        self._sign_and_send(job, job.bid, self._payload(job))
        return job

    def _payload(self, job: Job) -> bytes:
        return execute_calldata(job.route.trade)

    def simulate(self, job: Job) -> int:
        """The trade's gross profit by ``eth_call`` on the latest block; raises :class:`Refused`.

        The trade itself is called (it must not revert); unless the trade is a fused flash
        swap (whose profit is fixed by its own amounts), a probe with an unreachable minimum
        profit is called in the same batch and its ``ProfitBelowMinimum(out, owed, _)`` gives
        the exact gross profit.
        """
        trade = job.trade
        calls = [("eth_call", [{"from": self.signer.address, "to": self.arb.address,
                                "data": "0x" + self._payload(job).hex()}, "latest"])]
        if not trade.fused:
            probe = replace(trade, min_profit=MAX_AMOUNT).encode()
            calls.append(("eth_call", [{"from": self.signer.address, "to": self.arb.address,
                                        "data": "0x" + execute_calldata(probe).hex()}, "latest"]))
        try:
            answers = self.chain.rpc_batch(calls, errors=True)
        except ChainError as exc:
            raise Refused(RejectReason.CHAIN_UNAVAILABLE, f"simulation: {exc}") from None
        if isinstance(answers[0], Exception):
            raise Refused(RejectReason.SIMULATION_REVERTED, self._revert_name(answers[0])) from None
        if trade.fused:
            gross = job.route.amounts_out[len(trade.hops) - 1] - trade.amount_in
        else:
            probe_error = answers[1]
            name = None
            if isinstance(probe_error, RpcError):
                reverted = self.chain._reverted_or(probe_error, "probe")
                if isinstance(reverted, Reverted) and reverted.error == "ProfitBelowMinimum":
                    out, owed, _ = reverted.error_args
                    gross = out - owed
                    name = "ok"
            if name is None:
                raise Refused(RejectReason.SIMULATION_REVERTED, "the profit probe did not report the profit")
        net = gross - job.route.gas_cost
        o = job.opp
        if net <= 0 or net * o.net_profit_usd_q8 < self.policy.min_profit_usd_q8 * o.expected_profit:
            raise Refused(RejectReason.SIMULATED_PROFIT_LOW, f"simulated net profit {net}")
        return gross

    def _revert_name(self, error: Exception) -> str:
        if isinstance(error, RpcError):
            reverted = self.chain._reverted_or(error, "simulation")
            if isinstance(reverted, Reverted):
                if reverted.error == "Error" and reverted.error_args:
                    return str(reverted.error_args[0])  # require(..., "message") of a pool
                return reverted.error or reverted.data[:10] or "reverted"
        return type(error).__name__

    def _sign_and_send(self, job: Job, b: Bid, payload: bytes, *, nonce: int | None = None,
                       to: str | None = None) -> None:
        """Sign (checking the stop before) and send (checking it again right before)."""
        if self.halted():
            raise Refused(RejectReason.HALTED, "halted before signing")
        fresh = nonce is None
        n = self.nonces.take() if nonce is None else nonce
        signed = self.signer.sign(nonce=n, gas=b.gas_limit, max_fee=b.max_fee, priority_fee=b.priority_fee,
                                  to=to or self.arb.address, data=payload)
        job.signed_ns = time.time_ns()
        if self.halted():
            if fresh:
                self.nonces.give_back(n)
            raise Refused(RejectReason.HALTED, "halted before sending")
        raw, tx_hash = bytes(signed.raw), bytes(signed.tx_hash)
        with self._journal_lock:
            self.journal.sent(job.oid, n, tx_hash, raw)
        try:
            submission = self.submitter.submit(raw, job.target_block)
        except ChainError as exc:
            self.nonces.resync()
            if fresh:
                raise Refused(RejectReason.SEND_FAILED, f"send: {exc}") from None
            raise
        job.sent_ns = time.time_ns()
        job.nonce, job.tx_hash, job.raw, job.bid = n, tx_hash, raw, b
        job.path = submission.path
        job.attempts += 1
        job.hashes.append(tx_hash)

    def receipts(self, jobs: list[Job]) -> dict[bytes, dict | None]:
        """Receipts of every transaction of ``jobs`` (one batch); None where not mined."""
        hashes = [h for job in jobs for h in job.hashes]
        answers = self.chain.rpc_batch([("eth_getTransactionReceipt", ["0x" + h.hex()]) for h in hashes],
                                       errors=True)
        return {h: (a if isinstance(a, dict) else None) for h, a in zip(hashes, answers, strict=True)}

    def revert_of(self, job: Job, receipt: dict) -> str:
        """Why a mined trade reverted: out of gas when it used (nearly) all of its limit, else the
        call replayed on the state before its block."""
        block = int(receipt["blockNumber"], 16)
        if job.bid is not None and int(receipt["gasUsed"], 16) * 64 >= job.bid.gas_limit * 63:
            return "OutOfGas"
        try:
            self.chain.call(self.arb.address, self._payload(job), sender=self.signer.address, block=block - 1)
        except Reverted as exc:
            return exc.error or "reverted"
        except ChainError as exc:
            return type(exc).__name__
        return "reverted in its block only"

    def renew(self, job: Job, head: HeadView) -> str:
        """A transaction not mined by its target block: what to do now, and do it.

        A relayed one is sent publicly (once). One still valid waits while its fee cap covers
        the next base fee, else its fees are bumped (same nonce; at most ``replace_attempts``
        times, never past the ceiling nor the profit). One expired is cancelled: a self-transfer
        with the same nonce and bumped fees, so the stale trade cannot land later. Returns
        ``fallback``, ``waiting``, ``bumped`` or ``cancelled``.
        """
        assert job.bid is not None
        if job.path == SubmitPath.RELAY and not job.fell_back:
            job.fell_back = True
            self.submitter.fallback(job.raw)
            job.path = SubmitPath.RELAY_THEN_PUBLIC
            return "fallback"
        expired = head.number + 1 > job.opp.valid_until_block or time.time_ns() > job.opp.valid_until_ns
        if job.cancelled or (not expired and job.bid.max_fee >= head.next_base_fee):
            return "waiting"
        cap = max(_bumped(job.bid.max_fee), head.next_base_fee + head.priority_fee)
        tip = min(_bumped(job.bid.priority_fee), cap)
        if not expired and job.attempts <= self.replace_attempts and cap <= self.policy.max_fee_wei:
            worst = gas_in_token(job, job.bid.gas_limit * cap)
            if worst < job.gross:
                self._sign_and_send(job, Bid(job.bid.gas_limit, cap, tip, worst), self._payload(job), nonce=job.nonce)
                return "bumped"
            return "waiting"  # the profit cannot pay more: it lands at this price or expires
        if not expired:
            return "waiting"
        job.cancelled = True
        self._sign_and_send(job, Bid(21_000, cap, tip, 0), b"", nonce=job.nonce, to=self.signer.address)
        return "cancelled"

    # -- settle (loop thread) -------------------------------------------------------------

    def settle(self, job: Job, receipt: dict, revert_name: str = "") -> list:
        """The final frame of a mined transaction of ``job`` (and the journal's last word)."""
        if self.in_flight.pop(job.oid, None) is not None:
            self.release(job)
        status_ok = int(receipt.get("status", "0x0"), 16) == 1
        block = int(receipt["blockNumber"], 16)
        gas_used = int(receipt["gasUsed"], 16)
        price = int(receipt.get("effectiveGasPrice", "0x0"), 16)
        mined = bytes.fromhex(receipt["transactionHash"][2:])
        job.tx_hash = mined
        job.included_ns = time.time_ns()
        if str(receipt.get("to") or "").lower() != self.arb.address.lower():
            status, profit, error = ExecutionStatus.DROPPED, 0, "cancelled"
        elif not status_ok:
            status, profit, error = ExecutionStatus.REVERTED, 0, revert_name or "reverted"
        else:
            events = [e for e in arbitrage_events(_receipt_logs(receipt), self.arb.address)  # type: ignore[arg-type]
                      if e.route == job.trade.route_hash]
            status, profit, error = ExecutionStatus.INCLUDED, sum(e.profit for e in events), ""
        with self._journal_lock:
            self.journal.settled(job.oid, int(status))
        revert = RevertReason.NONE
        if status == ExecutionStatus.REVERTED:
            revert = revert_reason(error)
        elif status == ExecutionStatus.DROPPED:
            revert = RevertReason.STALE_OPPORTUNITY
        return frame_of(job, status, block=block, gas_used=gas_used, gas_price=price, chain_profit=profit,
                        revert=revert, error=error, confirmed_ns=job.included_ns)


def _receipt_logs(receipt: dict) -> dict:
    """A raw JSON receipt in the shape :func:`contracts.arbitrage.arbitrage_events` reads."""
    return {"logs": [{"address": log["address"], "topics": [bytes.fromhex(t[2:]) for t in log["topics"]],
                      "data": bytes.fromhex(log["data"][2:])} for log in receipt.get("logs", [])]}
