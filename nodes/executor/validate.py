"""Every check an opportunity must pass before it is signed, with no network: it is well formed
and self-consistent, names only allowed strategies, pools, tokens, lenders and the configured
recipient, has not expired, and stays inside the size, profit and gas limits.

A refusal is a :class:`Refused` carrying its :class:`~mesh.protocol.constants.RejectReason`.
"""

from __future__ import annotations

from dataclasses import dataclass

from alphapulse.errors import AlphaPulseError
from contracts.arbitrage import BadTrade, Trade
from mesh.protocol import ArbitrageOpportunity
from mesh.protocol.constants import FlashSource, PoolKind, RejectReason
from mesh.protocol.messages import ArbitrageRoute
from nodes.executor.policy import Policy


class Refused(AlphaPulseError):
    """An opportunity the executor will not send; ``reason`` says why (counted per reason)."""

    kind = "refused"

    def __init__(self, reason: RejectReason, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class HeadView:
    """The newest block the executor knows of and the fees for the next one (wei)."""

    number: int
    next_base_fee: int
    priority_fee: int


def _hex(raw: bytes) -> str:
    return "0x" + bytes(raw).hex()


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def wei_in_token(opp: ArbitrageOpportunity, route: ArbitrageRoute, wei: int) -> int:
    """``wei`` of gas in raw units of the profit token at the opportunity's own rate
    (``gas_cost`` per ``gas_estimate × gas_price_wei``), rounded up; 0 without a rate."""
    denominator = opp.gas_estimate * opp.gas_price_wei
    return _ceil_div(route.gas_cost * wei, denominator) if denominator else 0


def flash_fee_of(trade: Trade) -> int:
    """The most the trade's lender can charge for ``amount_in`` (what FlashArbitrage accepts)."""
    a = trade.amount_in
    if trade.source == FlashSource.AAVE_V3:
        return _ceil_div(a * trade.lender_fee, 10_000)
    if trade.source == FlashSource.UNISWAP_V3:
        return _ceil_div(a * trade.lender_fee, 1_000_000)
    if trade.fused:
        return 0
    return _ceil_div(a * 10_000, 10_000 - trade.lender_fee) - a


def check_shape(opp: ArbitrageOpportunity, route: ArbitrageRoute, policy: Policy) -> Trade:
    """The route's trade, checked against the opportunity field by field and the allow-lists."""
    if route.opportunity_id != opp.opportunity_id:
        raise Refused(RejectReason.MALFORMED, f"route {route.opportunity_id} is not opportunity "
                                              f"{opp.opportunity_id}'s")
    if opp.chain_id != policy.chain_id or route.chain_id != policy.chain_id:
        raise Refused(RejectReason.WRONG_CHAIN, f"chain {opp.chain_id}/{route.chain_id}, "
                                                f"this executor trades on {policy.chain_id}")
    if policy.strategies is not None and opp.strategy_id not in policy.strategies:
        raise Refused(RejectReason.STRATEGY_NOT_ALLOWED, f"strategy {opp.strategy_id} is not allowed")
    try:
        trade = Trade.decode(route.trade)
    except BadTrade as exc:
        raise Refused(RejectReason.MALFORMED, f"route trade: {exc}") from None
    n = len(trade.hops)
    if not (len(opp.pools) == len(opp.pool_kinds) == len(route.amounts_out) == n and len(opp.tokens) == n + 1):
        raise Refused(RejectReason.MALFORMED, f"{n} hops in the trade, {len(opp.pools)} in the opportunity")
    for i, hop in enumerate(trade.hops):
        if (hop.pool.lower() != _hex(opp.pools[i]) or int(hop.kind) != opp.pool_kinds[i]
                or hop.token_in.lower() != _hex(opp.tokens[i])
                or hop.token_out.lower() != _hex(opp.tokens[i + 1])):
            raise Refused(RejectReason.MALFORMED, f"hop {i} of the trade differs from the opportunity")
        if hop.kind == PoolKind.UNISWAP_V2 and hop.amount_out not in (0, route.amounts_out[i]):
            raise Refused(RejectReason.MALFORMED, f"hop {i} asks {hop.amount_out}, the route says "
                                                  f"{route.amounts_out[i]}")
    if (trade.lender.lower() != _hex(opp.flash_lender) or int(trade.source) != opp.flash_source
            or trade.amount_in != opp.amount_in):
        raise Refused(RejectReason.MALFORMED, "lender, source or amount differs from the opportunity")
    if trade.recipient.lower() != policy.recipient:
        raise Refused(RejectReason.RECIPIENT_NOT_ALLOWED, f"the trade pays {trade.recipient}")
    for hop in trade.hops:
        if policy.pools is not None and hop.pool.lower() not in policy.pools:
            raise Refused(RejectReason.POOL_NOT_ALLOWED, f"pool {hop.pool} is not allowed")
        if policy.tokens is not None and hop.token_in.lower() not in policy.tokens:
            raise Refused(RejectReason.TOKEN_NOT_ALLOWED, f"token {hop.token_in} is not allowed")
    if policy.lenders is not None and trade.lender.lower() not in policy.lenders:
        raise Refused(RejectReason.LENDER_NOT_ALLOWED, f"lender {trade.lender} is not allowed")
    _check_amounts(opp, route, trade)
    return trade


def _check_amounts(opp: ArbitrageOpportunity, route: ArbitrageRoute, trade: Trade) -> None:
    """The opportunity's figures must add up, and the on-chain minimum must cover the gas."""
    fee = flash_fee_of(trade)
    exact_fee = trade.source != FlashSource.AAVE_V3
    if opp.flash_fee > fee or (exact_fee and opp.flash_fee != fee):
        raise Refused(RejectReason.MALFORMED, f"flash fee {opp.flash_fee}, the lender charges {fee}")
    if (opp.expected_out != route.amounts_out[len(trade.hops) - 1]
            or opp.expected_profit != opp.expected_out - opp.amount_in - opp.flash_fee - route.gas_cost):
        raise Refused(RejectReason.MALFORMED, "expected output or profit does not add up")
    if trade.min_profit < max(route.gas_cost, 1):
        raise Refused(RejectReason.PROFIT_BELOW_MINIMUM, f"on-chain minimum {trade.min_profit} is below "
                                                         f"the gas cost {route.gas_cost}")


def check_limits(opp: ArbitrageOpportunity, trade: Trade, policy: Policy, head: HeadView | None,
                 now_ns: int) -> None:
    """Expiry (block and time), size, profit and gas limits."""
    if head is None:
        raise Refused(RejectReason.NO_BLOCK_YET, "no block seen yet")
    if head.number + 1 > opp.valid_until_block:
        raise Refused(RejectReason.EXPIRED_BLOCK, f"valid until block {opp.valid_until_block}, "
                                                  f"the next is {head.number + 1}")
    if now_ns > opp.valid_until_ns:
        raise Refused(RejectReason.EXPIRED_TIME, f"expired {(now_ns - opp.valid_until_ns) / 1e6:.1f} ms ago")
    limit = policy.amount_limit(trade.profit_token.lower())
    if limit is None or opp.amount_in > limit:
        raise Refused(RejectReason.SIZE_LIMIT, f"amount {opp.amount_in} above the limit {limit}")
    if opp.expected_profit <= 0 or opp.net_profit_usd_q8 < policy.min_profit_usd_q8:
        raise Refused(RejectReason.PROFIT_BELOW_MINIMUM, f"net profit {opp.net_profit_usd_q8 / 1e8:.4f} USD")
    if opp.net_profit_usd_q8 > policy.max_profit_usd_q8:
        raise Refused(RejectReason.PROFIT_ABOVE_LIMIT, f"net profit {opp.net_profit_usd_q8 / 1e8:.2f} USD "
                                                       "is beyond belief")
    if not 0 < opp.gas_estimate <= policy.max_gas or opp.gas_price_wei == 0:
        raise Refused(RejectReason.GAS_ABOVE_BUDGET, f"gas estimate {opp.gas_estimate} at "
                                                     f"{opp.gas_price_wei} wei")
    if head.next_base_fee > policy.max_fee_wei:
        raise Refused(RejectReason.GAS_PRICE_CEILING, f"base fee {head.next_base_fee} wei above the "
                                                      f"ceiling {policy.max_fee_wei}")


@dataclass(frozen=True, slots=True)
class Bid:
    """The gas a transaction offers: limit, fee cap and tip (wei), and its worst cost in the
    profit token (raw, rounded up)."""

    gas_limit: int
    max_fee: int
    priority_fee: int
    worst_gas_token: int


def bid(opp: ArbitrageOpportunity, route: ArbitrageRoute, policy: Policy, head: HeadView,
        gross_profit: int) -> Bid:
    """The fees for the next block, never risking more gas than ``gross_profit`` covers.

    The cap is the price the strategy netted the gas at, raised to the next block's base fee
    plus tip when that is higher, and never above the ceiling. The worst cost (every unit of the
    gas limit at the cap) is converted into the profit token at the opportunity's own rate
    (``gas_cost`` per ``gas_estimate × gas_price_wei``) and must not exceed ``gross_profit``.
    """
    tip = head.priority_fee * policy.tip_pct // 100
    cap = min(max(opp.gas_price_wei, head.next_base_fee + tip), policy.max_fee_wei)
    if cap < head.next_base_fee:
        raise Refused(RejectReason.GAS_PRICE_CEILING, "the next base fee is above the ceiling")
    tip = min(tip, cap - head.next_base_fee)
    gas_limit = policy.gas_limit(opp.gas_estimate)
    worst = wei_in_token(opp, route, gas_limit * cap)
    if worst >= gross_profit:
        raise Refused(RejectReason.GAS_ABOVE_BUDGET, f"worst gas {worst} would take the whole profit "
                                                     f"{gross_profit}")
    return Bid(gas_limit, cap, tip, worst)
