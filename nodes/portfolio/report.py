"""What the books say, in three shapes: a JSON-ready dict, text for a terminal, and the
``StrategyPerformance`` messages the node publishes.

Amounts stay Python ints (raw token units, wei, USD x 1e8) in the dict: :mod:`json` writes
them exactly, however large. ``StrategyPerformance`` fields are fixed-width, so there they are
clamped to the field's range.
"""

from __future__ import annotations

from typing import Any

from mesh.protocol import StrategyPerformance
from mesh.protocol.constants import ExecutionStatus
from nodes.portfolio.books import Books, Tally

_I64 = (-(2**63), 2**63 - 1)
_I128 = (-(2**127), 2**127 - 1)
_U64 = (0, 2**64 - 1)
_U128 = (0, 2**128 - 1)


def clamp(value: int, bounds: tuple[int, int]) -> int:
    """``value`` limited to ``bounds`` (inclusive)."""
    return max(bounds[0], min(bounds[1], value))


def tally_dict(t: Tally) -> dict[str, Any]:
    """One tally's figures (ints), including the derived ones."""
    return {
        "results": t.results,
        "submitted": t.submitted,
        "executed": t.executed,
        "succeeded": t.count(ExecutionStatus.INCLUDED),
        "reverted": t.count(ExecutionStatus.REVERTED),
        "dropped": t.count(ExecutionStatus.DROPPED),
        "rejected": t.count(ExecutionStatus.REJECTED),
        "submit_failed": t.count(ExecutionStatus.SUBMIT_FAILED),
        "success_bps": t.success_bps,
        "realized_profit": t.realized_profit,
        "realized_profit_usd_q8": t.realized_profit_usd_q8,
        "chain_profit": t.chain_profit,
        "gas_paid_wei": t.gas_paid_wei,
        "compared": t.compared,
        "predicted_profit": t.predicted_profit,
        "compared_realized": t.compared_realized,
        "profit_shortfall": t.predicted_profit - t.compared_realized,
        "predicted_gross": t.predicted_gross,
        "compared_chain": t.compared_chain,
        "gross_shortfall": t.predicted_gross - t.compared_chain,
        "gas_compared": t.gas_compared,
        "gas_estimate": t.gas_estimate,
        "gas_used": t.gas_used,
        "first_ns": t.first_ns,
        "last_ns": t.last_ns,
    }


def report(books: Books) -> dict[str, Any]:
    """Positions, P&L per token, per-strategy performance (and per token within it)."""
    strategies = []
    for sid, tally in books.strategies().items():
        row = {"strategy_id": sid, "pending": books.pending_of(sid), **tally_dict(tally)}
        row["tokens"] = {token: tally_dict(t) for (s, token), t in sorted(books.tallies.items())
                         if s == sid}
        strategies.append(row)
    tokens = books.tokens()
    return {
        "positions": dict(sorted(books.positions.items())),
        "pnl": {token: {"realized_profit": t.realized_profit,
                        "realized_profit_usd_q8": t.realized_profit_usd_q8,
                        "chain_profit": t.chain_profit, "gas_paid_wei": t.gas_paid_wei}
                for token, t in tokens.items()},
        "realized_profit_usd_q8": sum(t.realized_profit_usd_q8 for t in tokens.values()),
        "gas_paid_wei": sum(t.gas_paid_wei for t in tokens.values()),
        "booked": len(books.bookings),
        "pending": len(books.pending),
        "strategies": strategies,
    }


def _usd(q8: int) -> str:
    sign = "-" if q8 < 0 else ""
    whole, frac = divmod(abs(q8), 10**8)
    return f"{sign}{whole}.{frac // 10**6:02d}"


def render(rep: dict[str, Any], labels: dict[str, str] | None = None) -> str:
    """The report as text: one table each for positions, P&L and strategies."""
    labels = labels or {}

    def name(token: str) -> str:
        return labels.get(token, token)

    lines = [f"booked {rep['booked']} results, {rep['pending']} pending; realized "
             f"USD {_usd(rep['realized_profit_usd_q8'])}, gas {rep['gas_paid_wei']} wei", "",
             "positions (raw units from trading; native = gas paid, wei)"]
    lines += [f"  {name(t):<44} {v:>30}" for t, v in rep["positions"].items()] or ["  (none)"]
    lines += ["", "realized P&L per profit token (raw, net of gas)"]
    lines += [f"  {name(t):<44} {p['realized_profit']:>30}  USD {_usd(p['realized_profit_usd_q8'])}"
              for t, p in rep["pnl"].items()] or ["  (none)"]
    lines += ["", "strategies",
              f"  {'id':>5} {'results':>7} {'sent':>5} {'ok':>5} {'revert':>6} {'drop':>5} "
              f"{'reject':>6} {'fail':>5} {'pend':>5} {'success':>7} {'pnl USD':>14} "
              f"{'gas est/used':>22}"]
    for s in rep["strategies"]:
        lines.append(
            f"  {s['strategy_id']:>5} {s['results']:>7} {s['submitted']:>5} {s['succeeded']:>5} "
            f"{s['reverted']:>6} {s['dropped']:>5} {s['rejected']:>6} {s['submit_failed']:>5} "
            f"{s['pending']:>5} {s['success_bps'] / 100:>6.2f}% "
            f"{_usd(s['realized_profit_usd_q8']):>14} "
            f"{str(s['gas_estimate']) + '/' + str(s['gas_used']):>22}")
        for token, t in s["tokens"].items():
            lines.append(f"        {name(token)}: realized {t['realized_profit']} of predicted "
                         f"{t['predicted_profit']}, chain paid {t['compared_chain']} of predicted "
                         f"{t['predicted_gross']}")
    if not rep["strategies"]:
        lines.append("  (none)")
    return "\n".join(lines)


def performance(books: Books, now_ns: int) -> list[list[StrategyPerformance]]:
    """One list per strategy (a frame): a ``StrategyPerformance`` per profit token it booked in,
    counts and sums since its first booking. Summing a list's messages gives the strategy's
    totals."""
    frames: dict[int, list[StrategyPerformance]] = {}
    for (sid, token), t in sorted(books.tallies.items()):
        frames.setdefault(sid, []).append(StrategyPerformance(
            realized_profit=clamp(t.realized_profit, _I128),
            window_start_ns=clamp(t.first_ns, _U64), window_end_ns=clamp(now_ns, _U64),
            opportunities=t.results, submitted=t.submitted,
            succeeded=t.count(ExecutionStatus.INCLUDED),
            reverted=t.count(ExecutionStatus.REVERTED),
            realized_profit_usd_q8=clamp(t.realized_profit_usd_q8, _I64),
            gas_spent_wei=clamp(t.gas_paid_wei, _U128), strategy_id=sid,
            profit_token=bytes.fromhex(token[2:])))
    return list(frames.values())
