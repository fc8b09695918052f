"""The AlphaPulse DeFi extension: types upstream leaves unspecified (docs/protocol-types.md).

Numbers are free slots inside each domain's upstream range: Market data 4-7 (upstream reserves
them with no layout), Signal 33-38 and 62 (upstream's registry names 62 RiskAlert with a 24-256
byte bound but no layout; this one fits it), Execution 50-53, System 113-115. Layouts use natural alignment with every hole written as
padding, u128 at 16-byte offsets and sizes rounded to 16 where a u128 is present, so a
``#[repr(C)]`` Rust struct with the same fields has the same bytes. Money is raw token units
(u128/i128) or USD × 1e8 (``_usd_q8``); fees in parts per million (``_ppm``, 3000 = 0.3 %).
"""

from __future__ import annotations

from mesh.protocol.constants import RelayDomain
from mesh.protocol.layout import (
    addr,
    count,
    i32,
    i64,
    i128,
    pad,
    paddr,
    raw,
    tail,
    text,
    u8,
    u16,
    u32,
    u64,
    u128,
    vec,
)
from mesh.protocol.registry import message

_EXT = "alphapulse"

# --- market data from a chain: what the upstream pool types cannot say --------------------------

ChainEvent = message(4, "ChainEvent", [
    u64("block_number"), u64("block_timestamp_ns", "block header timestamp × 1e9"),
    u64("received_ns", "collector's wall clock when the log arrived"), u64("chain_id"),
    u32("log_index", "the log's index in its block"), u32("transaction_index"),
    raw("transaction_hash", 32),
], size=72, origin=_EXT,
    doc="Where the pool message before it in the frame comes from: its log's place in the chain.")

BlockEnd = message(5, "BlockEnd", [
    u128("next_base_fee_wei", "EIP-1559 base fee of the next block, from this header"),
    u128("priority_fee_wei", "the node's priority-fee suggestion"),
    u64("block_number"), u64("block_timestamp_ns"),
    u64("received_ns", "collector's wall clock when the block was complete"), u64("chain_id"),
    u64("gas_used"), u64("gas_limit"),
    u32("log_count", "pool logs of this block written before this frame"), pad(4),
    raw("block_hash", 32), raw("parent_hash", 32), pad(8),
], size=160, origin=_EXT,
    doc="A block is complete: every pool's state in the frames before it is the state after it.")

PoolTickLiquidity = message(6, "PoolTickLiquidity", [
    i128("liquidity_net", "UniswapV3Pool.ticks(tick).liquidityNet, exact"),
    u128("liquidity_gross", "0 = the tick is not initialized"),
    u64("block_number"), u64("timestamp_ns", "block timestamp"), i32("tick"), u16("venue"),
    pad(10), paddr("pool_address"),
], size=96, origin=_EXT, doc="One V3 tick's exact liquidity after a block (PoolTick holds 64 bits).")

PoolInvalidation = message(7, "PoolInvalidation", [
    u64("block_number", "last block whose state was consistent"), u64("timestamp_ns"),
    u64("chain_id"), u16("venue"), u8("reason", "InvalidationReason"), pad(5),
    paddr("pool_address"),
], size=64, origin=_EXT,
    doc="Forget this pool's state until its next PoolState (reorg, disconnect, failed read).")

ArbitrageOpportunity = message(33, "ArbitrageOpportunity", [
    u128("amount_in", "exact input, raw units of tokens[0]"),
    u128("expected_out", "expected output of the last hop, raw units of tokens[-1]"),
    u128("flash_fee", "flash-loan fee, raw units of tokens[0]"),
    i128("expected_profit", "expected_out − amount_in − flash_fee − gas in tokens[0], raw"),
    u64("opportunity_id"), u64("chain_id"),
    u64("detected_block", "block of the pool state used"),
    u64("valid_until_block"), u64("valid_until_ns", "wall clock, ns since epoch"),
    u64("gas_estimate", "gas units"), u64("gas_price_wei", "max fee per gas assumed"),
    i64("net_profit_usd_q8", "net profit in USD × 1e8"),
    vec("hop_fee_ppm", u32(""), 4, "hop_count", doc="pool fee of each hop, ppm"),
    u32("flash_fee_ppm", "lender's fee, ppm (Aave 500 = 0.05 %)"),
    u16("strategy_id"), u16("confidence_bps", "0..10000"),
    count("hop_count", "B", "1..4"), u8("flash_source", "FlashSource"),
    vec("pool_kinds", u8(""), 4, "hop_count", doc="PoolKind of each hop"), pad(2),
    vec("pools", addr(""), 4, "hop_count", doc="pool of each hop, in route order"),
    vec("tokens", addr(""), 5, "hop_count", plus=1, doc="token path, hop_count + 1 tokens"),
    addr("flash_lender", "Aave pool, V2 pair or V3 pool lending tokens[0]"), pad(8),
], size=368, origin=_EXT,
    doc="A sized, fee-netted arbitrage route of up to 4 hops, ready for an executor.")

ArbitrageRoute = message(36, "ArbitrageRoute", [
    vec("amounts_out", u128(""), 4, "hop_count",
        doc="exact output of each hop, raw units of its output token"),
    u128("gas_cost", "gas_estimate × gas_price_wei in raw units of tokens[0], rounded up"),
    u64("opportunity_id", "the ArbitrageOpportunity this route belongs to"), u64("chain_id"),
    count("hop_count", "B", "1..4"), pad(15),
    tail("trade", "the packed trade FlashArbitrage.execute takes (contracts/arbitrage.py)"),
], size=112, origin=_EXT,
    doc="What an executor sends for an ArbitrageOpportunity: every hop's exact output and the "
        "packed FlashArbitrage trade. Rides in the same frame, after the opportunity.")

CrossChainArbitrageSignal = message(34, "CrossChainArbitrageSignal", [
    u128("amount_in", "raw units on the source chain"),
    u128("expected_out", "raw units on the destination chain"),
    u64("opportunity_id"), u64("source_chain_id"), u64("dest_chain_id"),
    u64("valid_until_ns"), i64("net_profit_usd_q8"), i64("bridge_cost_usd_q8"),
    u32("bridge_latency_s", "expected transfer time"), u16("strategy_id"),
    u16("confidence_bps"),
    addr("source_pool"), addr("dest_pool"), addr("token_in"), addr("token_out"),
    u16("source_venue", "VenueId"), u16("dest_venue", "VenueId"),
    u16("bridge", "VenueId of the bridge, 0 if none"), pad(2),
], size=176, origin=_EXT, doc="A price difference between two chains, net of bridge cost.")

CrossChainLegs = message(38, "CrossChainLegs", [
    u128("x_bought", "raw units of the bridged asset X the source leg buys with amount_in"),
    u128("bridge_fee", "raw source X the bridge keeps: fixed + ppm of x_bought, rounded up"),
    u128("x_arrived", "raw X arriving on the destination chain: the destination leg's input"),
    u128("dest_amount_out", "the destination pool's exact output, raw destination quote, before the haircut"),
    u128("latency_haircut", "raw destination quote taken for the bridge's latency, rounded up"),
    u128("gas_cost", "both legs' gas in raw source quote, rounded up"),
    i128("net_profit", "raw source quote: expected_out (in source units) - amount_in - gas_cost"),
    u64("opportunity_id", "the CrossChainArbitrageSignal this record details"),
    u64("source_block", "block of the source pool state used"),
    u64("dest_block", "block of the destination pool state used"),
    u32("bridge_fee_ppm"), u32("latency_haircut_ppm_per_min"),
    addr("source_asset", "X on the source chain"), addr("dest_asset", "X on the destination chain"),
    pad(8),
], size=192, origin=_EXT,
    doc="Both legs of a CrossChainArbitrageSignal (sent in its frame): the bridged asset's amounts, "
        "the bridge's and latency's cost, gas, and the blocks priced.")

CexDexSignal = message(37, "CexDexSignal", [
    u128("dex_amount_in", "exact input of the DEX leg, raw units of its input token"),
    u128("dex_amount_out", "exact output of the DEX leg at the pool state used, raw units"),
    i128("expected_profit", "raw units of quote_token, net of pool fee, gas and CEX taker fee"),
    u128("gas_cost", "the DEX leg's gas in raw units of quote_token, rounded up"),
    u64("signal_id"), u64("chain_id"), u64("detected_block", "block of the pool state used"),
    u64("valid_until_ns", "wall clock, ns since epoch"),
    u64("cex_timestamp_ns", "exchange time of the CEX book used"),
    u64("cex_asset_id", "InstrumentId.asset_id of the CEX pair"),
    i64("cex_quantity", "base quantity of the CEX leg × 1e8, a multiple of the lot size"),
    i64("cex_price", "average price of the CEX leg over the levels it takes × 1e8"),
    i64("cex_best", "best bid (selling on the CEX) or ask (buying) × 1e8"),
    i64("dex_price", "average DEX execution price, quote per base × 1e8"),
    i64("net_profit_usd_q8", "expected_profit in USD × 1e8"),
    u32("pool_fee_ppm"), u32("cex_taker_fee_ppm"),
    u16("cex_venue", "VenueId"), u8("cex_asset_type"), u8("direction", "CexDexDirection"),
    u8("pool_kind", "PoolKind"), u8("reserved"), u16("strategy_id"),
    i32("spread_bps", "(CEX side price − DEX price) / DEX price in bps, before fees"), pad(4),
    addr("pool"), addr("base_token", "the CEX base asset on chain (WETH for ETH)"),
    addr("quote_token", "the CEX quote asset on chain; profit is booked in it"), pad(4),
], size=240, origin=_EXT,
    doc="A CEX-DEX price difference sized on both legs: buy on one side, sell on the other, "
        "net of the pool fee, the DEX leg's gas and the CEX taker fee.")

StrategyPerformance = message(35, "StrategyPerformance", [
    i128("realized_profit", "raw units of profit_token"),
    u64("window_start_ns"), u64("window_end_ns"),
    u64("opportunities"), u64("submitted"), u64("succeeded"), u64("reverted"),
    i64("realized_profit_usd_q8"), pad(8),
    u128("gas_spent_wei"),
    u16("strategy_id"), pad(6), addr("profit_token"), pad(4),
], size=128, origin=_EXT, doc="A strategy's counts and P&L over a time window.")

RiskAlert = message(62, "RiskAlert", [
    u64("alert_id"), u64("timestamp_ns"),
    i64("observed", "the value that tripped the rule"), i64("threshold"),
    u32("rule", "risk rule code"), u16("strategy_id", "0 = all"),
    u8("severity", "Severity"), u8("action", "AlertAction"),
    text("message", 56),
], size=96, origin=_EXT, doc="A risk rule that tripped, and what the risk node did about it.")

ExecutionResult = message(50, "ExecutionResult", [
    u128("amount_in", "raw units"),
    i128("realized_profit", "raw units of profit_token; negative = loss incl. gas"),
    u64("opportunity_id"), u64("block_number"), u64("gas_used"),
    u64("effective_gas_price_wei"), i64("realized_profit_usd_q8"),
    u64("detected_ns", "opportunity creation, wall ns"), u64("submitted_ns"),
    u64("confirmed_ns"),
    u32("revert_reason", "RevertReason"), u16("strategy_id"),
    u8("status", "ExecutionStatus"), pad(1),
    raw("tx_hash", 32), addr("profit_token"), pad(4),
], size=160, origin=_EXT, doc="What became of an opportunity: transaction, status, gas, P&L.")

ExecutionDetail = message(53, "ExecutionDetail", [
    i128("predicted_profit", "the opportunity's expected_profit (net of estimated gas), raw"),
    i128("predicted_gross", "expected_out − amount_in − flash_fee, raw units of profit_token"),
    u128("chain_profit", "profit the contract's Arbitrage event reports (before gas), raw"),
    u128("gas_paid_wei", "gas_used × effective_gas_price_wei"),
    u64("opportunity_id"), u64("chain_id"),
    u64("received_ns", "opportunity received, wall ns"), u64("validated_ns"),
    u64("simulated_ns"), u64("signed_ns"), u64("sent_ns"), u64("included_ns"),
    u64("gas_estimate", "the opportunity's gas units"), u64("gas_limit"),
    u64("max_fee_per_gas", "wei"), u64("priority_fee_per_gas", "wei"), u64("nonce"),
    u16("reject_reason", "RejectReason"), u8("submit_path", "SubmitPath"),
    u8("attempts", "transactions signed for it (replacements included)"), pad(4),
    text("error", 32, "revert or refusal, by name"),
], size=208, origin=_EXT,
    doc="How an execution went, beside its ExecutionResult in the same frame: predicted and "
        "chain-reported profit, the gas bid, and the time of each step.")

OrderRequest = message(51, "OrderRequest", [
    u64("order_id", "client order id"), u64("opportunity_id", "0 if not an arbitrage leg"),
    u64("asset_id"), i64("price", "× 1e8; 0 for market"), i64("quantity", "× 1e8"),
    u64("timestamp_ns"), u16("venue"), u8("asset_type"), u8("side", "OrderSide"),
    u8("order_type", "OrderType"), u8("time_in_force", "TimeInForce"), u16("strategy_id"),
], size=56, origin=_EXT, doc="An order for a CEX leg.")

OrderStatus = message(52, "OrderStatus", [
    u64("order_id"), u64("venue_order_id"), i64("filled_quantity", "× 1e8"),
    i64("remaining_quantity", "× 1e8"), i64("avg_fill_price", "× 1e8"),
    i64("fee", "× 1e8, quote currency"), u64("timestamp_ns"), u16("venue"),
    u8("status", "OrderState"), u8("reject_reason"), pad(4),
], size=64, origin=_EXT, doc="The state of a CEX order.")

Heartbeat = message(113, "Heartbeat", [
    u64("timestamp_ns", "wall clock"), u64("started_ns", "wall clock at start"),
    u64("frames_in"), u64("frames_out"), u64("errors"), u64("gaps"), u64("drops"),
    u64("stop_id", "latched EmergencyStop id, 0 if none"),
    u32("pid"), u32("interval_ms"), u8("state", "NodeState"),
    u8("min_version", "lowest protocol version spoken"),
    u8("max_version", "highest protocol version spoken"),
    u8("stop_latched", "1 while an emergency stop is latched"), pad(4),
    text("node", 32, "node name"),
], size=112, origin=_EXT, domain=RelayDomain.SYSTEM,
    doc="Liveness and counters of one node; a latched stop rides in every beat.")

EmergencyStop = message(114, "EmergencyStop", [
    u64("stop_id"), u64("timestamp_ns", "when raised, wall ns"),
    u32("raised_by_pid"), u16("reason_code", "StopReason"), u8("scope", "StopScope"),
    u8("latched", "1 = stop in force, 0 = released (resume)"),
    u64("scope_id", "strategy id or chain id for a narrow scope"),
    text("raised_by", 32, "node or operator"), text("reason", 64),
], size=128, origin=_EXT, domain=RelayDomain.SYSTEM,
    doc="Halt trading now; latched until an explicit resume.")

ProcessEvent = message(115, "ProcessEvent", [
    u64("timestamp_ns", "wall clock when the event listener received it"),
    u64("serial", "supervisord's event serial"),
    u32("pid", "the program's process id, 0 when it has none"),
    u32("count", "transitions of this program into `state` the listener has seen"),
    u32("starts", "transitions of this program into STARTING (1 + restarts)"),
    u16("tries", "supervisord's start attempts so far (STARTING, BACKOFF)"),
    u8("state", "ProcessState"), u8("from_state", "ProcessState"),
    u8("expected", "EXITED: 1 if the exit code was an expected one"), pad(7),
    text("program", 32, "supervisord program name"),
], size=72, origin=_EXT, domain=RelayDomain.SYSTEM,
    doc="A supervised program changed state (supervisord PROCESS_STATE event).")
