"""An :class:`~nodes.strategy.evaluate.Opportunity` as the frame the node publishes:
``[ArbitrageOpportunity, ArbitrageRoute, TraceContext...]`` (docs/protocol-types.md; the spans of
the block's trace, newest first, docs/tracing.md)."""

from __future__ import annotations

from collections.abc import Sequence

from mesh.protocol import ArbitrageOpportunity
from mesh.protocol.constants import PoolKind
from mesh.protocol.messages import ArbitrageRoute, TraceContext
from nodes.strategy.evaluate import Evaluator
from nodes.strategy.values import Opportunity, next_id


def _raw(address: str) -> bytes:
    return bytes.fromhex(address[2:])


def opportunity_frame(opp: Opportunity, ev: Evaluator, id_base: int, strategy_id: int,
                      valid_until_block: int, valid_until_ns: int, trace: Sequence[TraceContext] = (),
                      ) -> list[ArbitrageOpportunity | ArbitrageRoute | TraceContext]:
    """The TLVs of one published opportunity (a fresh ``opportunity_id``), then ``trace``."""
    oid = next_id(id_base)
    tokens = [opp.hops[0].token_in, *(h.token_out for h in opp.hops)]
    hop_ppm = tuple(h.fee * 100 if h.kind == PoolKind.UNISWAP_V2 else h.fee for h in opp.hops)
    trade = opp.trade.encode()
    return [
        ArbitrageOpportunity(
            amount_in=opp.amount_in, expected_out=opp.amounts_out[-1], flash_fee=opp.flash_fee,
            expected_profit=opp.profit, opportunity_id=oid, chain_id=ev.dep.chain_id,
            detected_block=opp.block, valid_until_block=valid_until_block, valid_until_ns=valid_until_ns,
            gas_estimate=opp.gas, gas_price_wei=opp.gas_price, net_profit_usd_q8=opp.profit_usd_q8,
            hop_fee_ppm=hop_ppm, flash_fee_ppm=opp.lender.fee_ppm(), strategy_id=strategy_id,
            confidence_bps=opp.confidence_bps, flash_source=int(opp.lender.source),
            pool_kinds=tuple(int(h.kind) for h in opp.hops), pools=tuple(_raw(h.pool) for h in opp.hops),
            tokens=tuple(_raw(t) for t in tokens), flash_lender=_raw(opp.lender.address)),
        ArbitrageRoute(amounts_out=tuple(opp.amounts_out), gas_cost=opp.gas_cost, opportunity_id=oid,
                       chain_id=ev.dep.chain_id, trade=trade),
        *trace,
    ]
