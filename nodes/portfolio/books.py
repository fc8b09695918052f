"""The books: each opportunity's final result booked once, and the tallies derived from them.

:class:`Books` is the ledger (bookings by opportunity id, submissions still pending) and the
aggregates every report reads: per (strategy, profit token) a :class:`Tally` of counts, P&L,
gas and predicted-versus-realized figures, and per token the position the trades built.
Folding a frame (:meth:`Books.fold`) decides what it changes without changing anything, so the
node can write that to the store first and apply it after (:meth:`Books.apply`).

Idempotence: an opportunity's first final result is the one that counts; a later final for the
same id is a duplicate (counted, and a *conflict* when its status differs); a SUBMITTED after
the final, or a second SUBMITTED, changes nothing.

Not thread-safe: the node's loop thread owns it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from mesh.protocol import ExecutionDetail, ExecutionResult, Message, UnknownTLV
from mesh.protocol.constants import ExecutionStatus
from nodes.portfolio.booking import FINAL, Booking, booking_of
from nodes.portfolio.store import Pending

#: Key of the native coin (gas) in :attr:`Books.positions`.
NATIVE = "native"
_SENT = frozenset({ExecutionStatus.INCLUDED, ExecutionStatus.REVERTED, ExecutionStatus.DROPPED})


@dataclass(slots=True)
class Tally:
    """Counts and sums over a set of bookings (one strategy and profit token, or more merged).

    ``compared`` counts included results with a detail; ``predicted_*`` and ``compared_*``
    sum over exactly those, so they compare like with like. ``gas_compared`` counts mined
    results with a detail, over which ``gas_estimate`` and ``gas_used`` are summed.
    """

    results: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    realized_profit: int = 0
    realized_profit_usd_q8: int = 0
    chain_profit: int = 0
    gas_paid_wei: int = 0
    compared: int = 0
    predicted_profit: int = 0
    compared_realized: int = 0
    predicted_gross: int = 0
    compared_chain: int = 0
    gas_compared: int = 0
    gas_estimate: int = 0
    gas_used: int = 0
    first_ns: int = 0
    last_ns: int = 0

    def add(self, b: Booking) -> None:
        """Count one booking in."""
        self.results += 1
        self.statuses[b.status] += 1
        self.realized_profit += b.realized_profit
        self.realized_profit_usd_q8 += b.realized_profit_usd_q8
        self.gas_paid_wei += b.gas_paid_wei
        if b.included:
            self.chain_profit += b.chain_profit
        if b.included and b.has_detail:
            self.compared += 1
            self.predicted_profit += b.predicted_profit
            self.compared_realized += b.realized_profit
            self.predicted_gross += b.predicted_gross
            self.compared_chain += b.chain_profit
        if b.mined and b.has_detail:
            self.gas_compared += 1
            self.gas_estimate += b.gas_estimate
            self.gas_used += b.gas_used
        self.first_ns = min(self.first_ns, b.booked_ns) if self.first_ns else b.booked_ns
        self.last_ns = max(self.last_ns, b.booked_ns)

    def merge(self, other: Tally) -> None:
        """Add ``other``'s counts and sums to this one."""
        for name in ("results", "realized_profit", "realized_profit_usd_q8", "chain_profit",
                     "gas_paid_wei", "compared", "predicted_profit", "compared_realized",
                     "predicted_gross", "compared_chain", "gas_compared", "gas_estimate",
                     "gas_used"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.statuses.update(other.statuses)
        if other.first_ns:
            self.first_ns = min(self.first_ns, other.first_ns) if self.first_ns else other.first_ns
        self.last_ns = max(self.last_ns, other.last_ns)

    def count(self, status: ExecutionStatus) -> int:
        """Results of one status."""
        return self.statuses.get(int(status), 0)

    @property
    def submitted(self) -> int:
        """Results whose transaction was sent (included, reverted or dropped)."""
        return sum(self.statuses.get(int(s), 0) for s in _SENT)

    @property
    def executed(self) -> int:
        """Results whose transaction reached a block (included or reverted)."""
        return self.count(ExecutionStatus.INCLUDED) + self.count(ExecutionStatus.REVERTED)

    @property
    def success_bps(self) -> int:
        """Included per sent transaction, basis points (0 when none was sent)."""
        sent = self.submitted
        return self.count(ExecutionStatus.INCLUDED) * 10_000 // sent if sent else 0


@dataclass(slots=True)
class Folded:
    """What one frame changes: new bookings and submissions, and what it repeated."""

    bookings: list[Booking] = field(default_factory=list)
    submitted: list[Pending] = field(default_factory=list)
    duplicates: int = 0
    conflicts: int = 0
    invalid: int = 0

    @property
    def changes(self) -> bool:
        """The frame books or records something."""
        return bool(self.bookings or self.submitted)


class Books:
    """The ledger and its tallies (see the module docstring)."""

    def __init__(self) -> None:
        self.bookings: dict[int, Booking] = {}
        self.pending: dict[int, Pending] = {}
        #: (strategy_id, profit token) -> tally.
        self.tallies: dict[tuple[int, str], Tally] = {}
        #: Token -> raw units the trades brought in (the chain profit paid out); NATIVE -> gas
        #: paid (negative wei).
        self.positions: dict[str, int] = {}

    # -- folding and applying ------------------------------------------------------------------

    def fold(self, tlvs: Sequence[Message | UnknownTLV], received_ns: int) -> Folded:
        """What the ExecutionResults of one frame change (nothing is changed here).

        Each result is paired with the frame's ExecutionDetail of the same opportunity.
        """
        out = Folded()
        details = {t.opportunity_id: t for t in tlvs if isinstance(t, ExecutionDetail)}
        seen: dict[int, int] = {}
        for tlv in tlvs:
            if not isinstance(tlv, ExecutionResult):
                continue
            oid, status = tlv.opportunity_id, int(tlv.status)
            booked = self.bookings.get(oid)
            booked_status = booked.status if booked is not None else seen.get(oid)
            if status in FINAL:
                if booked_status is not None and booked_status != ExecutionStatus.SUBMITTED:
                    out.duplicates += 1
                    out.conflicts += booked_status != status
                    continue
                seen[oid] = status
                out.bookings.append(booking_of(tlv, details.get(oid), received_ns))
            elif status == ExecutionStatus.SUBMITTED:
                if booked_status is not None or oid in self.pending:
                    out.duplicates += 1
                    continue
                seen[oid] = status
                out.submitted.append(Pending(oid, tlv.strategy_id, received_ns))
            else:
                out.invalid += 1
        return out

    def apply(self, bookings: Iterable[Booking], submitted: Iterable[Pending]) -> None:
        """Book what :meth:`fold` returned (after it has been stored)."""
        for p in submitted:
            self.pending[p.opportunity_id] = p
        for b in bookings:
            self.pending.pop(b.opportunity_id, None)
            self.bookings[b.opportunity_id] = b
            self.tallies.setdefault((b.strategy_id, b.profit_token), Tally()).add(b)
            if b.included:
                self.positions[b.profit_token] = self.positions.get(b.profit_token, 0) \
                    + b.chain_profit
            if b.gas_paid_wei:
                self.positions[NATIVE] = self.positions.get(NATIVE, 0) - b.gas_paid_wei

    # -- reading -------------------------------------------------------------------------------

    def strategies(self) -> dict[int, Tally]:
        """Strategy id -> its tallies merged over every profit token."""
        out: dict[int, Tally] = {}
        for (sid, _token), tally in sorted(self.tallies.items()):
            out.setdefault(sid, Tally()).merge(tally)
        return out

    def tokens(self) -> dict[str, Tally]:
        """Profit token -> its tallies merged over every strategy."""
        out: dict[str, Tally] = {}
        for (_sid, token), tally in sorted(self.tallies.items()):
            out.setdefault(token, Tally()).merge(tally)
        return out

    def pending_of(self, strategy_id: int) -> int:
        """Submissions of one strategy not settled yet."""
        return sum(1 for p in self.pending.values() if p.strategy_id == strategy_id)

    def paid(self, token: str, after_block: int, upto_block: int) -> int:
        """Chain profit in ``token`` of included results in blocks ``after_block + 1 ..
        upto_block``: what the profit recipient received over that range, per the books."""
        return sum(b.chain_profit for b in self.bookings.values()
                   if b.included and b.profit_token == token
                   and after_block < b.block_number <= upto_block)

    @classmethod
    def of(cls, bookings: Iterable[Booking], pending: Iterable[Pending] = ()) -> Books:
        """Books holding ``bookings`` and ``pending`` (as read from the store)."""
        books = cls()
        books.apply(bookings, pending)
        return books
