"""Decoded frames to the JSON objects the page receives (docs/dashboard.md, "Messages").

Pure functions, no state. Money leaves as decimal strings of exact raw units (and USD as q8
integers in strings); a float ``*_usd`` beside a q8 figure is for display only. Addresses are
``0x`` + lowercase hex.
"""

from __future__ import annotations

from typing import Any

from mesh.protocol import (
    ArbitrageOpportunity,
    CrossChainArbitrageSignal,
    EmergencyStop,
    ExecutionDetail,
    ExecutionResult,
    ProcessEvent,
    RiskAlert,
)
from mesh.protocol.constants import ExecutionStatus, ProcessState, Severity, StopScope

Q8 = 100_000_000


def hex_address(raw: bytes) -> str:
    """``0x`` + the address bytes in lowercase hex."""
    return "0x" + bytes(raw).hex()


def usd(q8: int) -> float:
    """A q8 USD integer as a float, for display only."""
    return q8 / Q8


def _name(enum: Any, value: int) -> str:
    try:
        return str(enum(value).name)
    except ValueError:
        return str(value)


def opportunity(o: ArbitrageOpportunity, ts_ns: int) -> dict[str, Any]:
    """``{"type": "opportunity", ...}`` of an ArbitrageOpportunity."""
    return {
        "type": "opportunity", "id": str(o.opportunity_id), "strategy_id": o.strategy_id,
        "chain_id": str(o.chain_id),
        "profit": str(o.expected_profit), "profit_token": hex_address(o.tokens[0]) if o.tokens
        else None, "net_profit_usd_q8": str(o.net_profit_usd_q8),
        "net_profit_usd": usd(o.net_profit_usd_q8), "amount_in": str(o.amount_in),
        "expected_out": str(o.expected_out), "hops": len(o.pools),
        "pools": [hex_address(p) for p in o.pools], "tokens": [hex_address(t) for t in o.tokens],
        "detected_block": str(o.detected_block), "ts_ns": ts_ns,
    }


def execution(r: ExecutionResult, detail: ExecutionDetail | None,
              predicted: tuple[int, int] | None, ts_ns: int) -> dict[str, Any]:
    """``{"type": "execution", ...}`` of an ExecutionResult.

    ``predicted``: the opportunity's ``(expected_profit, net_profit_usd_q8)`` when the
    dashboard saw it; the frame's ExecutionDetail gives the raw prediction otherwise.
    """
    pred_raw = detail.predicted_profit if detail is not None else \
        (predicted[0] if predicted is not None else None)
    pred_q8 = predicted[1] if predicted is not None else None
    tx = bytes(r.tx_hash)
    return {
        "type": "execution", "opportunity_id": str(r.opportunity_id),
        "strategy_id": r.strategy_id, "status": _name(ExecutionStatus, r.status),
        "predicted_profit": None if pred_raw is None else str(pred_raw),
        "realized_profit": str(r.realized_profit),
        "predicted_usd_q8": None if pred_q8 is None else str(pred_q8),
        "realized_usd_q8": str(r.realized_profit_usd_q8),
        "predicted_usd": None if pred_q8 is None else usd(pred_q8),
        "realized_usd": usd(r.realized_profit_usd_q8), "profit_token": hex_address(r.profit_token),
        "gas_used": str(r.gas_used), "block": str(r.block_number),
        "tx": None if not any(tx) else "0x" + tx.hex(),
        "error": detail.error if detail is not None and detail.error else None,
        "ts_ns": ts_ns,
    }


def alert(a: RiskAlert, ts_ns: int) -> dict[str, Any]:
    """``{"type": "alert", ...}`` of a RiskAlert."""
    return {"type": "alert", "severity": _name(Severity, a.severity), "kind": f"rule {a.rule}",
            "rule": a.rule, "message": a.message, "observed": str(a.observed),
            "threshold": str(a.threshold), "strategy_id": a.strategy_id,
            "ts_ns": a.timestamp_ns or ts_ns}


def crosschain(s: CrossChainArbitrageSignal, ts_ns: int) -> dict[str, Any]:
    """``{"type": "crosschain", ...}`` of a CrossChainArbitrageSignal."""
    return {
        "type": "crosschain", "id": str(s.opportunity_id), "strategy_id": s.strategy_id,
        "source_chain_id": str(s.source_chain_id), "dest_chain_id": str(s.dest_chain_id),
        "source_pool": hex_address(s.source_pool), "dest_pool": hex_address(s.dest_pool),
        "token_in": hex_address(s.token_in), "token_out": hex_address(s.token_out),
        "amount_in": str(s.amount_in), "expected_out": str(s.expected_out),
        "net_profit_usd_q8": str(s.net_profit_usd_q8), "net_profit_usd": usd(s.net_profit_usd_q8),
        "bridge_cost_usd_q8": str(s.bridge_cost_usd_q8),
        "bridge_cost_usd": usd(s.bridge_cost_usd_q8), "bridge_latency_s": s.bridge_latency_s,
        "ts_ns": ts_ns,
    }


def stop(e: EmergencyStop | None) -> dict[str, Any]:
    """``{"type": "stop", ...}``: the stop in force (``e.latched``), or none."""
    if e is None or not e.latched:
        return {"type": "stop", "latched": False, "scope": None, "reason": None,
                "stop_id": None, "raised_by": None, "since_ns": None}
    return {"type": "stop", "latched": True, "scope": _name(StopScope, e.scope),
            "reason": e.reason, "stop_id": str(e.stop_id), "raised_by": e.raised_by,
            "since_ns": e.timestamp_ns}


def process_row(p: ProcessEvent) -> dict[str, Any]:
    """One program's row of ``{"type": "process"}``."""
    return {"program": p.program, "state": _name(ProcessState, p.state),
            "pid": p.pid or None, "starts": p.starts, "ts_ns": p.timestamp_ns}


#: Program states that are worth an alert (EXITED only when the exit was unexpected).
_BAD_PROCESS = {ProcessState.BACKOFF: "WARNING", ProcessState.FATAL: "CRITICAL",
                ProcessState.EXITED: "WARNING"}


def process_alert(p: ProcessEvent) -> dict[str, Any] | None:
    """An ``alert`` for a program that crashed, backs off or gave up; None otherwise."""
    try:
        severity = _BAD_PROCESS.get(ProcessState(p.state))
    except ValueError:
        return None
    if severity is None or (p.state == ProcessState.EXITED and p.expected):
        return None
    return {"type": "alert", "severity": severity, "kind": "process",
            "message": f"{p.program} {_name(ProcessState, p.state)} (starts {p.starts})",
            "program": p.program, "ts_ns": p.timestamp_ns}
