"""Market-data types 1-19, byte-compatible with upstream v2 (docs/wire-format.md §4.3-§4.10).

Offsets are the ``#[repr(C)]`` layouts of upstream's Rust structs with every implicit hole
written out as padding; each declaration states the size the wire requires.
"""

from __future__ import annotations

from mesh.protocol.layout import count, i32, i64, pad, paddr, u8, u16, u32, u64, u128, u256, vec
from mesh.protocol.registry import message, record

Trade = message(1, "Trade", [
    u64("asset_id", "InstrumentId.asset_id"),
    i64("price", "price × 1e8"),
    i64("volume", "size × 1e8"),
    u64("execution_timestamp_ns", "exchange execution time"),
    u16("venue", "VenueId"),
    u8("asset_type", "InstrumentId.asset_type"),
    u8("reserved", "InstrumentId.reserved"),
    u8("side", "taker side: 0 buy, 1 sell"),
    pad(3),
], size=40, doc="A CEX trade (upstream TradeTLV, §4.3).")

Quote = message(2, "Quote", [
    u64("asset_id"), i64("bid_price", "× 1e8"), i64("bid_size", "× 1e8"),
    i64("ask_price", "× 1e8"), i64("ask_size", "× 1e8"), u64("quote_timestamp_ns"),
    u16("venue"), u8("asset_type"), u8("reserved"), pad(4),
], size=56, doc="Top of book (upstream QuoteTLV, 56 bytes as the hot path sends; §4.4, §7 #3).")

OrderLevel = record("OrderLevel", [
    i64("price", "× precision_factor"), i64("size"), u32("order_count"), pad(4),
], doc="One order-book level (24 bytes; the reserved u32 is written as zero).")

OrderBook = message(3, "OrderBook", [
    u64("snapshot_timestamp_ns"), u64("sequence", "per-book sequence for gap detection"),
    i64("precision_factor", "e.g. 100_000_000 for 8 decimals"), u64("asset_id"),
    u16("venue"), u8("asset_type"), u8("reserved"), pad(4),
    count("bid_count", "H"), pad(6),
    vec("bids", OrderLevel, 50, "bid_count", doc="highest price first"),
    count("ask_count", "H"), pad(6),
    vec("asks", OrderLevel, 50, "ask_count", doc="lowest price first"),
], size=2456, doc="A 50-level order book (upstream OrderBookTLV; always an extended TLV; §4.5).")

PoolLiquidity = message(10, "PoolLiquidity", [
    u64("timestamp_ns"), pad(8),
    count("reserve_count", "H"), pad(6), pad(8),
    vec("reserves", u128(""), 8, "reserve_count", doc="native units"),
    paddr("pool_address"), u16("venue"), pad(6), pad(8),
], size=208, doc="Pool reserves (upstream PoolLiquidityTLV with 16-aligned u128, §4.6, §7 #5).")

PoolSwap = message(11, "PoolSwap", [
    u128("amount_in", "raw units"), u128("amount_out", "raw units"),
    u128("liquidity_after", "V3 active liquidity; 0 for V2"),
    u64("timestamp_ns"), u64("block_number"), i32("tick_after", "V3"),
    u16("venue"), u8("amount_in_decimals"), u8("amount_out_decimals"), pad(8),
    paddr("pool_address"), paddr("token_in_addr"), paddr("token_out_addr"),
    u256("sqrt_price_x96_after", "Q64.96, LE 256-bit"),
], size=208, doc="A DEX swap (upstream PoolSwapTLV, §4.7).")

_MINT_BURN = [
    u128("liquidity_delta"), u128("amount0", "raw units"), u128("amount1", "raw units"),
    u64("timestamp_ns"), i32("tick_lower"), i32("tick_upper"),
    u16("venue"), u8("token0_decimals"), u8("token1_decimals"), pad(12),
    paddr("pool_address"), paddr("provider_addr"), paddr("token0_addr"), paddr("token1_addr"),
]

PoolMint = message(12, "PoolMint", _MINT_BURN, size=208,
                   doc="Liquidity added to a pool (upstream PoolMintTLV, §4.10).")

PoolBurn = message(13, "PoolBurn", _MINT_BURN, size=208,
                   doc="Liquidity removed from a pool (upstream PoolBurnTLV, §4.10).")

PoolTick = message(14, "PoolTick", [
    i64("liquidity_net"), u64("price_sqrt"), u64("timestamp_ns"), i32("tick"),
    u16("venue"), pad(2), paddr("pool_address"),
], size=64, doc="A V3 tick crossing (upstream PoolTickTLV, §4.10).")

PoolState = message(15, "PoolState", [
    u128("reserve0"), u128("reserve1"), u128("sqrt_price_x96", "0 for V2"),
    u128("liquidity", "0 for V2"), u64("block_number"), u64("timestamp_ns"),
    i32("tick", "0 for V2"), u32("fee_rate", "bps"), u16("venue"),
    u8("pool_type", "DEXProtocol"), u8("token0_decimals"), u8("token1_decimals"), pad(3),
    paddr("pool_address"), paddr("token0_addr"), paddr("token1_addr"),
], size=192, doc="A full pool snapshot (upstream PoolStateTLV, §4.9).")

PoolSync = message(16, "PoolSync", [
    u128("reserve0", "raw units"), u128("reserve1", "raw units"),
    u64("timestamp_ns"), u64("block_number"), u16("venue"),
    u8("token0_decimals"), u8("token1_decimals"), pad(12),
    paddr("pool_address"), paddr("token0_addr"), paddr("token1_addr"),
], size=160, doc="A V2 Sync event: the pair's new reserves (upstream PoolSyncTLV, §4.8).")

GasPrice = message(18, "GasPrice", [
    u64("block_number"), u64("timestamp_ns"),
    u32("gas_price_gwei", "base + priority, saturating"), u32("base_fee_gwei"),
    u32("priority_fee_gwei"), u16("venue", "upstream puts the EVM chain id here"),
    u16("reserved"),
], size=32, doc="Gas price per block (upstream GasPriceTLV, §4.10).")

StateInvalidationReason = message(19, "StateInvalidationReason", [
    u8("reason", "InvalidationReason"),
], size=1, doc="One InvalidationReason byte (§4.10).")
