"""The executor node: from an ``[ArbitrageOpportunity, ArbitrageRoute]`` frame to a settled trade.

On the loop thread each opportunity is checked against the policy (:mod:`.validate`, no network)
and claimed in the journal (:mod:`.journal`: never executed twice, also across a restart); an
offload thread simulates it (``eth_call`` on the latest block), bids the gas (never more than the
profit covers), signs it (EIP-1559) and sends it (:mod:`.submit`: public mempool or a bundle
relay with a public fallback); the stop (kill flag, latched EmergencyStop, dead man's switch) is
checked before signing and again right before sending. Every new block (the ring's ``BlockEnd``,
or a poll when no collector runs) checks the receipts of what is in flight; a transaction that
missed its block is relayed publicly, re-bid or cancelled. Every outcome is published as
``[ExecutionResult, ExecutionDetail]`` on the execution domain, the opportunity's trace after
them (docs/tracing.md). docs/executor.md has the rules.
"""

from __future__ import annotations

import functools
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alphapulse.errors import AlphaPulseError, ChainError, ConfigError
from contracts.accounts import dev_account, load_account
from contracts.arbitrage import arbitrage_contract
from contracts.client import Chain
from contracts.devnet import DevnetPaths, load_manifest
from contracts.fees import next_base_fee_of
from mesh.protocol import (
    ArbitrageOpportunity,
    BlockEnd,
    ExecutionDetail,
    ExecutionResult,
    decode_frame,
)
from mesh.protocol.constants import RejectReason, RelayDomain, SourceType
from mesh.protocol.messages import ArbitrageRoute, TraceContext
from mesh.rings import RingBatch
from nodes.executor.engine import Executor
from nodes.executor.journal import Journal
from nodes.executor.metrics import ExecutorMetrics
from nodes.executor.policy import load_policy
from nodes.executor.results import Job, trace_problems
from nodes.executor.validate import Bid, HeadView, Refused
from nodes.runtime import ConfigKey, Contract, Node

__all__ = ["ExecutorNode"]

_RETRY_S = 2.0
_BLOCK_END = 5  # BlockEnd's TLV type: the first TLV of a block's closing frame
_HEAD_POLL_NS = 1_000_000_000
_DEV_ACCOUNTS = 20  # anvil's default count
_RECEIPT_WAIT_NS = 300_000_000


@dataclass(frozen=True, slots=True)
class _Arrival:
    """An opportunity as it arrived, waiting for its batch."""

    opp: ArbitrageOpportunity
    route: ArbitrageRoute | None
    raw: bytes
    received_ns: int
    detected_ns: int


class ExecutorNode(Node):
    """Check, simulate, sign, send and settle arbitrage opportunities."""

    CONTRACT = Contract(
        kind="executor",
        role="Checks, simulates, signs and sends opportunities through FlashArbitrage; reports results.",
        source=SourceType.EXECUTION_ENGINE,
        consumes=(ArbitrageOpportunity, ArbitrageRoute),
        produces=(ExecutionResult, ExecutionDetail, TraceContext),
        reads=(RelayDomain.MARKET_DATA,),
        obeys_stop=True,
        config={
            "manifest": ConfigKey("", "FlashArbitrage, tokens and pools (JSON); empty = the devnet's"),
            "rpc_url": ConfigKey("", "JSON-RPC endpoint; empty = the manifest's"),
            "key": ConfigKey("devnet", "signing key: env (key_env), keystore (keystore + password_file), or "
                                       "devnet (the anvil account owning FlashArbitrage; refused off anvil)"),
            "key_env": ConfigKey("ALPHAPULSE_PRIVATE_KEY", "environment variable holding the key"),
            "keystore": ConfigKey("", "eth-account keystore file"),
            "password_file": ConfigKey("", "file holding the keystore's password"),
            "recipient": ConfigKey("", "the only profit recipient a trade may name; empty = the manifest's"),
            "allow_strategies": ConfigKey("1", "strategy ids allowed (comma list, * = any)"),
            "allow_pools": ConfigKey("manifest", "pools allowed: manifest, * or a comma list of addresses"),
            "allow_tokens": ConfigKey("manifest", "tokens allowed: manifest, * or symbols/addresses"),
            "allow_lenders": ConfigKey("manifest", "flash lenders allowed: manifest (its pools and Aave), * or a list"),
            "max_amount_in": ConfigKey("WETH=1000e18,USDC=3000000e6,DAI=3000000e18,WBTC=50e8",
                                       "largest input per token, raw (TOKEN=AMOUNT, *=AMOUNT for the rest)"),
            "min_profit_usd": ConfigKey("0", "smallest net profit executed, USD"),
            "max_profit_usd": ConfigKey("1000000", "larger claimed profits are refused as implausible, USD"),
            "max_gas": ConfigKey(3_000_000, "largest gas estimate accepted"),
            "max_fee_gwei": ConfigKey(500, "gas price ceiling: no fee cap above it, no trade while the base fee is"),
            "gas_margin_pct": ConfigKey(100, "gas limit = estimate + this margin (unused gas is not paid; cold storage "
                                             "on a fresh chain costs 40 % more than the table)"),
            "batch_ms": ConfigKey(50, "collect the opportunities of one block this long, then execute the most "
                                      "profitable first (0: each as it arrives)"),
            "tip_pct": ConfigKey(200, "priority fee bid, percent of the node's suggestion (above 100: ahead of "
                                      "ordinary traffic in the block, whose swaps would move the route's pools)"),
            "max_in_flight": ConfigKey(8, "most transactions sent and not settled"),
            "replace_attempts": ConfigKey(1, "fee bumps of a missed transaction before it is cancelled"),
            "submit": ConfigKey("public", "public (eth_sendRawTransaction) or relay (eth_sendBundle, then public)"),
            "relay_url": ConfigKey("", "bundle relay endpoint (submit = relay)"),
            "relay_timeout_ms": ConfigKey(250, "relay answer timeout before the public fallback"),
            "journal": ConfigKey("", "SQLite journal of claims and transactions; empty = RUN_DIR/<name>.journal"),
        },
    )

    def on_start(self) -> None:
        """Load the deployment and the key (retried until the chain answers)."""
        self.ex: Executor | None = None
        self._next_try = 0.0
        self._polling = False
        self._poll_next: HeadView | None = None
        self._checked_block = 0  # receipts checked at this block (or nothing was in flight)
        self._head_polling = False
        self._last_head_ns = 0
        self.counts: dict[str, int] = {}
        self.batch_ns = int(self.rt.settings["batch_ms"]) * 1_000_000
        self.batches: dict[int, list[_Arrival]] = {}
        self.batch_due: dict[int, int] = {}
        allowed = [int(x) for x in str(self.rt.settings["allow_strategies"]).split(",") if x.strip().isdigit()]
        self.metrics = ExecutorMetrics(self.rt.name, self.rt.metrics.registry if self.rt.metrics else None,
                                       self._gauges, allowed)
        self._try_load()

    # -- start-up ---------------------------------------------------------------------------

    def _try_load(self) -> None:
        try:
            self.ex = self._load()
        except ConfigError as exc:
            self._next_try = time.monotonic() + _RETRY_S
            self.rt.stats.error(exc.kind)
            self.rt.log.warning("executor: %s (retrying)", exc)
            return
        try:
            self.ex.head = self._poll_head()
        except ChainError as exc:
            self.rt.stats.error(exc.kind)
        for job in self._pending_jobs():
            self.ex.in_flight[job.oid] = job
        self.rt.log.info("executor: trading through %s on chain %d as %s (%d in flight from the journal)",
                         self.ex.arb.address, self.ex.policy.chain_id, self.ex.signer.address,
                         len(self.ex.in_flight))

    def _load(self) -> Executor:
        s = self.rt.settings
        path = s["manifest"] or str(DevnetPaths.of().manifest)
        try:
            manifest = load_manifest(path)
        except (ChainError, OSError) as exc:
            raise ConfigError(str(exc)) from exc
        rpc = s["rpc_url"] or str(manifest.get("rpc_url", ""))
        try:
            account = self._account(rpc, manifest)
            chain = Chain(rpc, account)
            arb = arbitrage_contract(chain, manifest["flash_arbitrage"])
        except (ChainError, KeyError, ValueError) as exc:
            raise ConfigError(f"executor: {exc}") from exc
        policy = load_policy(s, manifest, chain.chain_id)
        journal = Journal(s["journal"] or Path(self.rt.cfg.run_dir) / f"{self.rt.name}.journal")
        from contracts.signer import FastSigner
        from nodes.executor.submit import make_submitter
        submitter = make_submitter(str(s["submit"]), chain, str(s["relay_url"]),
                                   int(s["relay_timeout_ms"]) / 1000)
        return Executor(chain, arb, policy, journal, FastSigner(account, chain.chain_id), submitter,
                        self.rt.halted, max_in_flight=int(s["max_in_flight"]),
                        replace_attempts=int(s["replace_attempts"]))

    def _account(self, rpc: str, manifest: dict[str, Any]) -> Any:
        s = self.rt.settings
        if s["key"] == "env":
            return load_account(str(s["key_env"]))
        if s["key"] == "keystore":
            return load_account(str(s["key_env"]), keystore=str(s["keystore"]) or None,
                                password_file=str(s["password_file"]) or None)
        if s["key"] != "devnet":
            raise ConfigError(f"key must be env, keystore or devnet, not {s['key']!r}")
        chain = Chain(rpc)
        version = str(chain.rpc("web3_clientVersion"))
        if "anvil" not in version.lower():
            raise ConfigError(f"the devnet key is for anvil only, and {version!r} is not anvil")
        owner = str(arbitrage_contract(chain, manifest["flash_arbitrage"]).functions.owner().call()).lower()
        for index in range(_DEV_ACCOUNTS):
            if dev_account(index).address.lower() == owner:
                return dev_account(index)
        raise ConfigError(f"FlashArbitrage's owner {owner} is none of anvil's development accounts")

    def _pending_jobs(self) -> list[Job]:
        assert self.ex is not None
        jobs = []
        for p in self.ex.journal.pending():
            try:
                frame = decode_frame(p.frame)
                opp, route = frame.first(ArbitrageOpportunity), frame.first(ArbitrageRoute)
                if not isinstance(opp, ArbitrageOpportunity) or not isinstance(route, ArbitrageRoute):
                    raise ConfigError("a journal frame without its opportunity")
                job = self.ex.admit_known(opp, route, p.frame)
            except AlphaPulseError:
                self.rt.stats.error("journal")
                continue
            job.nonce, job.tx_hash, job.raw, job.hashes = p.nonce, p.tx_hash, p.raw, [p.tx_hash]
            job.attempts, job.bid = 1, Bid(0, 0, 0, 0)
            try:
                known = self.ex.chain.rpc("eth_getTransactionByHash", ["0x" + p.tx_hash.hex()]) is not None
            except ChainError:
                known = True  # cannot tell: keep tracking it
            if known:
                jobs.append(job)
            else:  # the chain never saw it (or forgot it: a new devnet): it will not land
                self._count("lost_at_restart")
                self._publish(self.ex.refusal(job, opp, route, Refused(
                    RejectReason.SEND_FAILED, "sent before a restart; the chain does not know it"), job.received_ns), opp)
        return jobs

    # -- opportunities ----------------------------------------------------------------------

    def on_frame(self, delivery) -> None:
        """Admit an opportunity and hand it to a worker."""
        received = time.time_ns()
        frame = delivery.frame
        opp = frame.first(ArbitrageOpportunity)
        if opp is None:
            return
        route = frame.first(ArbitrageRoute)
        ex = self.ex
        if ex is None:
            self._count("not_ready")
            return
        arrival = _Arrival(opp, route, bytes(delivery.raw), received, delivery.header.timestamp_ns)
        for kind in trace_problems(arrival.raw):
            self.rt.stats.error(kind)
        if self.batch_ns <= 0:
            self._start(ex, arrival)
            return
        batch = self.batches.setdefault(opp.detected_block, [])
        if not batch:
            self.batch_due[opp.detected_block] = time.monotonic_ns() + self.batch_ns
        batch.append(arrival)

    def _flush(self, now_ns: int) -> int:
        """Start the batches whose window closed, the most profitable opportunity first."""
        assert self.ex is not None
        # A batch waits for its window, and for the receipts of its block (what is in flight may
        # have landed there, freeing its pools), at most _RECEIPT_WAIT_NS longer.
        done = [block for block, due in self.batch_due.items()
                if due <= now_ns and (self._checked_block >= block or not self.ex.in_flight
                                      or due + _RECEIPT_WAIT_NS <= now_ns)]
        for block in sorted(done):
            del self.batch_due[block]
            for arrival in sorted(self.batches.pop(block), key=lambda a: -a.opp.net_profit_usd_q8):
                self._start(self.ex, arrival)
        return len(done)

    def _start(self, ex: Executor, a: _Arrival) -> None:
        """Admit one opportunity (or refuse it) and hand it to a worker."""
        try:
            job = self._admit(ex, a)
        except Refused as exc:
            self._refused(None, a.opp, a.route, exc, a.received_ns, a.raw)
            return
        self.rt.offload.call(ex.execute, job, on_done=functools.partial(self._executed, job))

    def _admit(self, ex: Executor, a: _Arrival) -> Job:
        if a.route is None:
            raise Refused(RejectReason.MALFORMED, "no ArbitrageRoute beside the opportunity")
        if self.rt.halted():
            raise Refused(RejectReason.HALTED, "halted")
        return ex.admit(a.opp, a.route, a.raw, a.received_ns, a.detected_ns)

    def _executed(self, job: Job, future: Future) -> None:
        assert self.ex is not None
        self.ex.working -= 1
        try:
            future.result()
        except Refused as exc:
            self._refused(job, job.opp, job.route, exc, job.received_ns)
            return
        except AlphaPulseError as exc:
            self._refused(job, job.opp, job.route, Refused(RejectReason.SEND_FAILED, str(exc)), job.received_ns)
            return
        self._count("sent")
        self._publish(self.ex.sent(job), job.opp)

    def _refused(self, job: Job | None, opp: ArbitrageOpportunity, route: ArbitrageRoute | None,
                 exc: Refused, received: int, raw: bytes = b"") -> None:
        assert self.ex is not None
        self._count(f"refused_{exc.reason.name.lower()}")
        self.rt.stats.error(f"refused_{exc.reason.name.lower()}")
        if exc.reason == RejectReason.DUPLICATE:
            return  # counted only: the first claim's result owns this opportunity id
        self._publish(self.ex.refusal(job, opp, route, exc, received, raw), opp)

    def _publish(self, messages: list, opp: ArbitrageOpportunity) -> None:
        """Publish a result frame and fold it into the metrics."""
        self.rt.publish(messages)
        self.metrics.published(messages, opp.net_profit_usd_q8)

    def _gauges(self) -> dict[str, float]:
        ex = self.ex
        head = ex.head if ex is not None else None
        return {"base_fee_gwei": head.next_base_fee / 1e9 if head is not None else 0.0,
                "in_flight": float(len(ex.in_flight)) if ex is not None else 0.0}

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    # -- blocks and receipts ----------------------------------------------------------------

    def on_ring_batch(self, batch: RingBatch) -> None:
        """Take the newest block's fees from the ring's BlockEnd frames; check receipts."""
        data, offs = batch.data, batch.offsets
        newest = None
        for i in range(batch.count):
            start = int(offs[i])
            if int(offs[i + 1]) - start > 34 and data[start + 32] == _BLOCK_END:
                newest = i
        if newest is None:
            return
        try:
            end = decode_frame(bytes(data[int(offs[newest]):int(offs[newest + 1])])).first(BlockEnd)
        except AlphaPulseError as exc:
            self.rt.stats.error(exc.kind)
            return
        if isinstance(end, BlockEnd) and (self.ex is None or self.ex.head is None or end.block_number > self.ex.head.number):
            self._new_head(HeadView(end.block_number, end.next_base_fee_wei, end.priority_fee_wei))

    def _new_head(self, head: HeadView) -> None:
        self._last_head_ns = time.monotonic_ns()
        if self.ex is None:
            return
        self.ex.head = head
        if not self.ex.in_flight:
            self._checked_block = max(self._checked_block, head.number)
        elif self._polling:
            self._poll_next = head  # checked as soon as the poll under way is done
        else:
            self._poll(head)

    def _poll(self, head: HeadView) -> None:
        assert self.ex is not None
        self._polling = True
        self._poll_next = None
        jobs = list(self.ex.in_flight.values())
        self.rt.offload.call(self._check, jobs, head, on_done=functools.partial(self._checked, head))

    def _check(self, jobs: list[Job], head: HeadView) -> list[tuple[Job, dict | None, str, str]]:
        """Worker: receipts of ``jobs``; the revert name of a reverted one; renew what missed its block."""
        assert self.ex is not None
        receipts = self.ex.receipts(jobs)
        out = []
        for job in jobs:
            receipt = next((r for h in job.hashes if (r := receipts.get(h)) is not None), None)
            name, action = "", ""
            if receipt is not None and int(receipt.get("status", "0x0"), 16) != 1 and not job.cancelled:
                name = self.ex.revert_of(job, receipt)
            elif receipt is None and head.number >= job.target_block:
                try:
                    action = self.ex.renew(job, head)
                except (AlphaPulseError, OSError) as exc:
                    action = f"renew failed: {type(exc).__name__}"
            out.append((job, receipt, name, action))
        return out

    def _checked(self, head: HeadView, future: Future) -> None:
        assert self.ex is not None
        self._polling = False
        try:
            checked = future.result()
        except AlphaPulseError as exc:
            self.rt.stats.error(exc.kind)
            checked = []
        else:
            self._checked_block = max(self._checked_block, head.number)
        for job, receipt, name, action in checked:
            if action:
                self._count(action.split(":")[0].replace(" ", "_"))
            if receipt is not None and job.oid in self.ex.in_flight:
                self._publish(self.ex.settle(job, receipt, name), job.opp)
                self._count("settled")
        if self._poll_next is not None and self.ex.in_flight:
            self._poll(self._poll_next)

    def on_tick(self, now_ns: int) -> int:
        """Retry loading; poll the chain's head when no BlockEnd came for a while."""
        if self.ex is None:
            if time.monotonic() >= self._next_try:
                self._try_load()
                return 1
            return 0
        flushed = self._flush(time.monotonic_ns()) if self.batch_due else 0
        if not self._head_polling and now_ns - self._last_head_ns > _HEAD_POLL_NS:
            self._head_polling = True
            self._last_head_ns = now_ns
            self.rt.offload.call(self._poll_head, on_done=self._polled_head)
            return 1
        return flushed

    def _poll_head(self) -> HeadView:
        assert self.ex is not None
        head = self.ex.chain.head("latest")
        return HeadView(head.number, next_base_fee_of(head), self.ex.chain.priority_fee())

    def _polled_head(self, future: Future) -> None:
        self._head_polling = False
        try:
            head = future.result()
        except AlphaPulseError as exc:
            self.rt.stats.error(exc.kind)
            return
        if self.ex is not None and (self.ex.head is None or head.number > self.ex.head.number
                                    or self.ex.in_flight):
            self._new_head(head)

    def on_stop(self) -> None:
        """Refuse what still waits for its batch; log what the node did; close the journal."""
        if self.ex is not None:
            for arrivals in self.batches.values():
                for a in arrivals:
                    self._refused(None, a.opp, a.route, Refused(RejectReason.HALTED, "node stopping"), a.received_ns)
            self.batches.clear()
            self.rt.log.info("executor: %s; %d still in flight", self.counts, len(self.ex.in_flight))
            self.ex.journal.close()
