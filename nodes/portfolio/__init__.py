"""The portfolio node: books every execution result, publishes performance, reconciles with
the chain.

Each frame carrying ``ExecutionResult`` (with its ``ExecutionDetail``) is folded into the books
(:mod:`.books`: an opportunity's final result once, SUBMITTED as pending), written to the SQLite
store (:mod:`.store`: the raw frame in the journal and what it books, one committed
transaction) and only then applied: whatever the node publishes or exports is on disk. On start
the journal is replayed, so a node killed at any moment comes back with the same books.

Every ``performance_interval_s`` it publishes one frame of ``StrategyPerformance`` per strategy
(one message per profit token); every ``reconcile_interval_s`` it compares the books' balances
of FlashArbitrage and the profit recipient with the chain (:mod:`.reconcile`, reads through
``rt.offload``) and raises a ``RiskAlert`` on a mismatch that persists. ``alphapulse pnl``
(:mod:`.cli`) reads the store. docs/portfolio.md has the details.
"""

from __future__ import annotations

import time
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alphapulse.errors import AlphaPulseError
from mesh.protocol import (
    ExecutionDetail,
    ExecutionResult,
    RiskAlert,
    StrategyPerformance,
    decode_frame,
)
from mesh.protocol.constants import AlertAction, Severity, SourceType
from nodes.portfolio.booking import Booking
from nodes.portfolio.books import Books
from nodes.portfolio.metrics import PortfolioCollector
from nodes.portfolio.reconcile import Mismatch, Reconciler, Target, probe, resolve_target
from nodes.portfolio.report import clamp, performance, report
from nodes.portfolio.store import Pending, Store
from nodes.runtime import ConfigKey, Contract, Node

if TYPE_CHECKING:
    from contracts.client import Chain

__all__ = ["RULE_RECONCILIATION", "PortfolioNode"]

#: RiskAlert.rule of a reconciliation mismatch.
RULE_RECONCILIATION = 100
_RETRY_S = 2.0
_I64 = (-(2**63), 2**63 - 1)


class PortfolioNode(Node):
    """Book execution results in SQLite; publish performance; reconcile with the chain."""

    CONTRACT = Contract(
        kind="portfolio",
        role="Books every execution result (SQLite), publishes strategy performance and "
             "reconciles the books with the chain's balances.",
        source=SourceType.PORTFOLIO_MANAGER,
        consumes=(ExecutionResult, ExecutionDetail),
        produces=(StrategyPerformance, RiskAlert),
        config={
            "db_path": ConfigKey("", "SQLite file of the books; empty = <run_dir>/portfolio.sqlite"),
            "performance_interval_s": ConfigKey(5.0, "seconds between StrategyPerformance frames"),
            "reconcile": ConfigKey(True, "compare the books with the chain's balances"),
            "manifest": ConfigKey("", "devnet manifest (JSON); empty = the devnet's"),
            "rpc_url": ConfigKey("", "JSON-RPC endpoint; empty = the manifest's"),
            "flash_arbitrage": ConfigKey("", "FlashArbitrage address; empty = the manifest's"),
            "recipient": ConfigKey("", "profit recipient; empty = the manifest's recipient, else its deployer"),
            "profit_tokens": ConfigKey("WETH,USDC,DAI", "tokens always reconciled (symbols or addresses)"),
            "reconcile_interval_s": ConfigKey(1.0, "seconds between looks at the chain's head"),
            "reconcile_lag_blocks": ConfigKey(2, "a check reads this many blocks behind the head"),
            "reconcile_checks": ConfigKey(2, "checks in a row with one difference that raise an alert"),
            "pending_grace_s": ConfigKey(30.0, "a submission younger than this makes a check inconclusive"),
        },
    )

    def on_start(self) -> None:
        """Open (migrate) the store, replay its journal, register the metrics."""
        s = self.rt.settings
        path = Path(s["db_path"] or Path(self.rt.cfg.run_dir) / "portfolio.sqlite")
        self.store = Store(path)
        self.books = Books()
        self.counters: dict[str, int] = {"booked": 0, "duplicates": 0, "reconcile_checks": 0,
                                         "reconcile_mismatches": 0, "pending": 0,
                                         "reconciled_block": 0}
        replayed = self.store.replay(self._replay_frame)
        self.collector = PortfolioCollector(self.rt.name)
        if self.rt.metrics is not None:
            self.rt.metrics.registry.register(self.collector)
        self.perf_every_ns = int(float(s["performance_interval_s"]) * 1e9)
        self.next_perf = time.monotonic_ns() + self.perf_every_ns
        self.alerts = 0
        self.target: Target | None = None
        self.chain: Chain | None = None
        self.reconciler: Reconciler | None = None
        self.reconcile_every_ns = int(float(s["reconcile_interval_s"]) * 1e9)
        self.next_check = 0
        self.busy = False
        self._snapshot()
        self.rt.log.info("portfolio: %s at schema %d, %d frames replayed, %d booked, %d pending",
                         path, self.store.version, replayed, len(self.books.bookings),
                         len(self.books.pending))

    def _replay_frame(self, received_ns: int, raw: bytes) -> tuple[list[Booking], list[Pending]]:
        try:
            tlvs = decode_frame(raw).tlvs
        except AlphaPulseError as exc:  # a journal written by a node of another protocol
            self.rt.stats.error(exc.kind)
            return [], []
        folded = self.books.fold(tlvs, received_ns)
        self.books.apply(folded.bookings, folded.submitted)
        return folded.bookings, folded.submitted

    # -- results -------------------------------------------------------------------------------

    def on_frame(self, delivery: Any) -> None:
        """Book a frame's results: store first, then apply."""
        now = time.time_ns()
        folded = self.books.fold(delivery.frame.tlvs, now)
        self.counters["duplicates"] += folded.duplicates
        if folded.conflicts:
            self.rt.stats.errors["portfolio_conflicting_final"] += folded.conflicts
        if folded.invalid:
            self.rt.stats.errors["portfolio_bad_status"] += folded.invalid
        if not folded.changes:
            if folded.duplicates:
                self._snapshot()
            return
        self.store.append(delivery.raw, now, folded.bookings, folded.submitted)
        self.books.apply(folded.bookings, folded.submitted)
        self.counters["booked"] += len(folded.bookings)
        missing = sum(1 for b in folded.bookings if b.mined and not b.has_detail)
        if missing:  # booked, but without the chain profit: reconciliation will disagree
            self.rt.stats.errors["portfolio_missing_detail"] += missing
        self._snapshot()

    def _snapshot(self) -> None:
        self.counters["pending"] = len(self.books.pending)
        diffs = {}
        if self.reconciler is not None:
            roles = self.reconciler.roles
            diffs = {(t, roles[h]): d for (t, h), d in self.reconciler.differences.items()}
        self.collector.snapshot = {"report": report(self.books), "counters": dict(self.counters),
                                   "differences": diffs}

    # -- the loop ------------------------------------------------------------------------------

    def on_tick(self, now_ns: int) -> int:
        """Publish performance when due; set up and run reconciliation."""
        work = 0
        if now_ns >= self.next_perf:
            self.next_perf = now_ns + self.perf_every_ns
            self._publish_performance()
            work += 1
        if self.rt.settings["reconcile"] and not self.busy and now_ns >= self.next_check:
            self.busy = True
            self.next_check = now_ns + self.reconcile_every_ns
            if self.reconciler is None:
                self.rt.offload.call(self._connect, on_done=self._connected)
            else:
                self._probe()
            work += 1
        return work

    def _publish_performance(self) -> None:
        now = time.time_ns()
        for frame in performance(self.books, now):
            self.rt.publish(frame, key=frame[0].strategy_id)

    def _connect(self) -> tuple[Target, Chain]:
        """Blocking (offloaded): resolve the target, connect to its chain."""
        from contracts.client import Chain
        from contracts.devnet import DevnetPaths

        target = resolve_target(self.rt.settings, str(DevnetPaths.of().manifest))
        return target, Chain(target.rpc_url)

    def _connected(self, future: Future[tuple[Target, Chain]]) -> None:
        self.busy = False
        try:
            target, chain = future.result()
        except (AlphaPulseError, OSError) as exc:
            self.next_check = time.monotonic_ns() + int(_RETRY_S * 1e9)
            self.rt.stats.error(exc.kind if isinstance(exc, AlphaPulseError) else "config")
            self.rt.log.warning("portfolio: reconciliation not ready: %s (retrying)", exc)
            return
        s = self.rt.settings
        self.target, self.chain = target, chain
        self.reconciler = Reconciler(target.arbitrage, target.recipient,
                                     int(s["reconcile_lag_blocks"]), int(s["reconcile_checks"]),
                                     check_recipient=target.check_recipient)
        if not target.check_recipient and target.recipient != target.arbitrage:
            self.rt.log.warning("portfolio: the recipient is the devnet's deployer, whose "
                                "balances move without the books: only FlashArbitrage is "
                                "reconciled (set recipient to reconcile a dedicated one)")
        self.rt.log.info("portfolio: reconciling %s in %d tokens at %s",
                         ", ".join(f"{a} ({r})" for a, r in self.reconciler.roles.items()),
                         len(target.tokens), chain.url)
        self.next_check = 0

    def _probe(self) -> None:
        assert self.reconciler is not None and self.target is not None
        seen = {b.profit_token for b in self.books.bookings.values()
                if b.profit_token != "0x" + "00" * 20}
        pairs = self.reconciler.pairs([*self.target.tokens, *sorted(seen)])
        self.rt.offload.call(probe, self.chain, self.reconciler.lag, self.reconciler.last_block,
                             pairs, on_done=self._probed)

    def _probed(self, future: Future[Any]) -> None:
        self.busy = False
        assert self.reconciler is not None
        answer = future.result()  # a ChainError is counted by the runtime
        if answer is None:
            return
        block, balances = answer
        grace = int(float(self.rt.settings["pending_grace_s"]) * 1e9)
        young = time.time_ns() - grace
        conclusive = not any(p.submitted_ns > young for p in self.books.pending.values())
        found = self.reconciler.observe(block, balances, self.books, conclusive)
        self.counters["reconcile_checks"] += 1
        self.counters["reconciled_block"] = block
        for mismatch in found:
            self._alert(mismatch)
        self._snapshot()

    def _alert(self, m: Mismatch) -> None:
        self.alerts += 1
        self.counters["reconcile_mismatches"] += 1
        label = self.target.labels.get(m.token, "") if self.target else ""
        token = label or f"{m.token[:10]}..{m.token[-4:]}"
        self.rt.publish(RiskAlert(
            alert_id=self.alerts, timestamp_ns=time.time_ns(), observed=clamp(m.difference, _I64),
            threshold=0, rule=RULE_RECONCILIATION, strategy_id=0, severity=Severity.CRITICAL,
            action=AlertAction.NONE, message=f"balance mismatch {token} at {m.role}"[:56]))
        self.rt.log.error("portfolio: %s of %s at block %d: chain %d, books %d (difference %d)",
                          m.role, m.token, m.block, m.chain, m.booked, m.difference)

    def on_stop(self) -> None:
        """Close the store (every write is committed already)."""
        self.rt.log.info("portfolio: %d booked, %d pending, %d duplicates, %d alerts",
                         len(self.books.bookings), len(self.books.pending),
                         self.counters["duplicates"], self.alerts)
        self.store.close()


