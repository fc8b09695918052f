"""Upstream AlphaPulse v2 byte tables, transcribed by hand (docs/wire-format.md §1.1, §4, §5, §6.3).

Every number here was typed from the upstream tables, not computed from ``mesh.protocol``: the
tests compare the project's layouts and encoder against this independent copy. Field names are
the project's (upstream calls Trade's ``venue`` ``venue_id``, for example); offsets, sizes,
kinds and order are upstream's.

A row is ``(offset, size, kind, name)``. Kinds: ``u8``..``u64``, ``i32``, ``i64``, ``u128``
(16 LE bytes), ``u256`` (32 LE bytes), ``addr`` (20 bare bytes), ``paddr`` (20 address bytes
then 12 zero bytes), ``raw`` (opaque bytes), ``pad`` (zero bytes, no name), ``count`` (a u16
element count the encoder derives) and ``vec`` (``name`` then the element table, capacity and
count field in :data:`VECTORS`).
"""

from __future__ import annotations

#: The 32-byte message header (§1.1): the v2 field order.
HEADER = [
    (0, 4, "u32", "magic"),
    (4, 1, "u8", "relay_domain"),
    (5, 1, "u8", "version"),
    (6, 1, "u8", "source"),
    (7, 1, "u8", "flags"),
    (8, 8, "u64", "sequence"),
    (16, 8, "u64", "timestamp"),
    (24, 4, "u32", "payload_size"),
    (28, 4, "u32", "checksum"),
]

#: Vector element layouts: OrderLevel (§4.5) and the packed 12-byte InstrumentId (§5.1).
ORDER_LEVEL = [
    (0, 8, "i64", "price"),
    (8, 8, "i64", "size"),
    (16, 4, "u32", "order_count"),
    (20, 4, "pad", None),  # upstream's reserved u32, written as zero
]
INSTRUMENT_ID = [
    (0, 8, "u64", "asset_id"),
    (8, 2, "u16", "venue"),
    (10, 1, "u8", "asset_type"),
    (11, 1, "u8", "reserved"),
]

#: Vector fields: name -> (element table, element size, capacity, count field).
VECTORS = {
    ("OrderBook", "bids"): ("ORDER_LEVEL", 24, 50, "bid_count"),
    ("OrderBook", "asks"): ("ORDER_LEVEL", 24, 50, "ask_count"),
    ("PoolLiquidity", "reserves"): ("u128", 16, 8, "reserve_count"),
    ("StateInvalidation", "instruments"): ("INSTRUMENT_ID", 12, 16, "instrument_count"),
}

_MINT_BURN = [
    (0, 16, "u128", "liquidity_delta"),
    (16, 16, "u128", "amount0"),
    (32, 16, "u128", "amount1"),
    (48, 8, "u64", "timestamp_ns"),
    (56, 4, "i32", "tick_lower"),
    (60, 4, "i32", "tick_upper"),
    (64, 2, "u16", "venue"),
    (66, 1, "u8", "token0_decimals"),
    (67, 1, "u8", "token1_decimals"),
    (68, 12, "pad", None),
    (80, 32, "paddr", "pool_address"),
    (112, 32, "paddr", "provider_addr"),
    (144, 32, "paddr", "token0_addr"),
    (176, 32, "paddr", "token1_addr"),
]

#: name -> (TLV type, relay domain, value size, rows). Snapshot's size is its fixed header;
#: its data follows as a variable tail.
UPSTREAM = {
    "Trade": (1, 1, 40, [  # §4.3
        (0, 8, "u64", "asset_id"),
        (8, 8, "i64", "price"),
        (16, 8, "i64", "volume"),
        (24, 8, "u64", "execution_timestamp_ns"),
        (32, 2, "u16", "venue"),
        (34, 1, "u8", "asset_type"),
        (35, 1, "u8", "reserved"),
        (36, 1, "u8", "side"),
        (37, 3, "pad", None),
    ]),
    "Quote": (2, 1, 56, [  # §4.4: the struct's 56 bytes, not the registry's 52
        (0, 8, "u64", "asset_id"),
        (8, 8, "i64", "bid_price"),
        (16, 8, "i64", "bid_size"),
        (24, 8, "i64", "ask_price"),
        (32, 8, "i64", "ask_size"),
        (40, 8, "u64", "quote_timestamp_ns"),
        (48, 2, "u16", "venue"),
        (50, 1, "u8", "asset_type"),
        (51, 1, "u8", "reserved"),
        (52, 4, "pad", None),
    ]),
    "OrderBook": (3, 1, 2456, [  # §4.5: bids at 40 (the implicit hole at 36), not 36
        (0, 8, "u64", "snapshot_timestamp_ns"),
        (8, 8, "u64", "sequence"),
        (16, 8, "i64", "precision_factor"),
        (24, 8, "u64", "asset_id"),
        (32, 2, "u16", "venue"),
        (34, 1, "u8", "asset_type"),
        (35, 1, "u8", "reserved"),
        (36, 4, "pad", None),
        (40, 2, "count", "bid_count"),
        (42, 6, "pad", None),
        (48, 1200, "vec", "bids"),
        (1248, 2, "count", "ask_count"),
        (1250, 6, "pad", None),
        (1256, 1200, "vec", "asks"),
    ]),
    "PoolLiquidity": (10, 1, 208, [  # §4.6: u128 aligned to 16 (current rustc)
        (0, 8, "u64", "timestamp_ns"),
        (8, 8, "pad", None),
        (16, 2, "count", "reserve_count"),
        (18, 6, "pad", None),
        (24, 8, "pad", None),
        (32, 128, "vec", "reserves"),
        (160, 32, "paddr", "pool_address"),
        (192, 2, "u16", "venue"),
        (194, 6, "pad", None),
        (200, 8, "pad", None),
    ]),
    "PoolSwap": (11, 1, 208, [  # §4.7
        (0, 16, "u128", "amount_in"),
        (16, 16, "u128", "amount_out"),
        (32, 16, "u128", "liquidity_after"),
        (48, 8, "u64", "timestamp_ns"),
        (56, 8, "u64", "block_number"),
        (64, 4, "i32", "tick_after"),
        (68, 2, "u16", "venue"),
        (70, 1, "u8", "amount_in_decimals"),
        (71, 1, "u8", "amount_out_decimals"),
        (72, 8, "pad", None),
        (80, 32, "paddr", "pool_address"),
        (112, 32, "paddr", "token_in_addr"),
        (144, 32, "paddr", "token_out_addr"),
        (176, 32, "u256", "sqrt_price_x96_after"),
    ]),
    "PoolMint": (12, 1, 208, _MINT_BURN),  # §4.10
    "PoolBurn": (13, 1, 208, _MINT_BURN),  # §4.10
    "PoolTick": (14, 1, 64, [  # §4.10
        (0, 8, "i64", "liquidity_net"),
        (8, 8, "u64", "price_sqrt"),
        (16, 8, "u64", "timestamp_ns"),
        (24, 4, "i32", "tick"),
        (28, 2, "u16", "venue"),
        (30, 2, "pad", None),
        (32, 32, "paddr", "pool_address"),
    ]),
    "PoolState": (15, 1, 192, [  # §4.9
        (0, 16, "u128", "reserve0"),
        (16, 16, "u128", "reserve1"),
        (32, 16, "u128", "sqrt_price_x96"),
        (48, 16, "u128", "liquidity"),
        (64, 8, "u64", "block_number"),
        (72, 8, "u64", "timestamp_ns"),
        (80, 4, "i32", "tick"),
        (84, 4, "u32", "fee_rate"),
        (88, 2, "u16", "venue"),
        (90, 1, "u8", "pool_type"),
        (91, 1, "u8", "token0_decimals"),
        (92, 1, "u8", "token1_decimals"),
        (93, 3, "pad", None),
        (96, 32, "paddr", "pool_address"),
        (128, 32, "paddr", "token0_addr"),
        (160, 32, "paddr", "token1_addr"),
    ]),
    "PoolSync": (16, 1, 160, [  # §4.8
        (0, 16, "u128", "reserve0"),
        (16, 16, "u128", "reserve1"),
        (32, 8, "u64", "timestamp_ns"),
        (40, 8, "u64", "block_number"),
        (48, 2, "u16", "venue"),
        (50, 1, "u8", "token0_decimals"),
        (51, 1, "u8", "token1_decimals"),
        (52, 12, "pad", None),
        (64, 32, "paddr", "pool_address"),
        (96, 32, "paddr", "token0_addr"),
        (128, 32, "paddr", "token1_addr"),
    ]),
    "GasPrice": (18, 1, 32, [  # §4.10
        (0, 8, "u64", "block_number"),
        (8, 8, "u64", "timestamp_ns"),
        (16, 4, "u32", "gas_price_gwei"),
        (20, 4, "u32", "base_fee_gwei"),
        (24, 4, "u32", "priority_fee_gwei"),
        (28, 2, "u16", "venue"),
        (30, 2, "u16", "reserved"),
    ]),
    "StateInvalidationReason": (19, 1, 1, [  # §4.10
        (0, 1, "u8", "reason"),
    ]),
    "ArbitrageSignal": (32, 2, 170, [  # §4.11, packed
        (0, 2, "u16", "strategy_id"),
        (2, 8, "u64", "signal_id"),
        (10, 4, "u32", "chain_id"),
        (14, 20, "addr", "source_pool"),
        (34, 20, "addr", "target_pool"),
        (54, 2, "u16", "source_venue"),
        (56, 2, "u16", "target_venue"),
        (58, 20, "addr", "token_in"),
        (78, 20, "addr", "token_out"),
        (98, 8, "i64", "expected_profit_usd_q8"),
        (106, 8, "i64", "required_capital_usd_q8"),
        (114, 2, "u16", "spread_bps"),
        (116, 8, "i64", "dex_fees_usd_q8"),
        (124, 8, "i64", "gas_cost_usd_q8"),
        (132, 8, "i64", "slippage_usd_q8"),
        (140, 8, "i64", "net_profit_usd_q8"),
        (148, 2, "u16", "slippage_tolerance_bps"),
        (150, 4, "u32", "max_gas_price_gwei"),
        (154, 4, "u32", "valid_until"),
        (158, 2, "u16", "priority"),
        (160, 2, "raw", "reserved"),
        (162, 8, "u64", "timestamp_ns"),
    ]),
    "Snapshot": (101, 4, 32, [  # §6.3: SnapshotTLVHeader, then the data
        (0, 8, "u64", "sequence"),
        (8, 8, "u64", "timestamp_ns"),
        (16, 4, "u32", "snapshot_id"),
        (20, 4, "u32", "checksum"),
        (24, 4, "u32", "uncompressed_size"),
        (28, 1, "u8", "embedded_type"),
        (29, 1, "u8", "embedded_length"),
        (30, 1, "u8", "compression_type"),
        (31, 1, "pad", None),
    ]),
    "StateInvalidation": (106, 4, 224, [  # §4.10
        (0, 8, "u64", "sequence"),
        (8, 8, "u64", "timestamp_ns"),
        (16, 2, "count", "instrument_count"),
        (18, 6, "pad", None),
        (24, 192, "vec", "instruments"),
        (216, 2, "u16", "venue"),
        (218, 1, "u8", "reason"),
        (219, 5, "pad", None),
    ]),
    "SystemHealth": (107, 4, 48, [  # §4.13
        (0, 8, "u64", "timestamp_ns"),
        (8, 4, "u32", "connection_count"),
        (12, 4, "u32", "message_rate_per_sec"),
        (16, 4, "u32", "last_error_code"),
        (20, 2, "u16", "error_rate_per_thousand"),
        (22, 2, "u16", "latency_p95_us"),
        (24, 1, "u8", "service_type"),
        (25, 1, "u8", "health_status"),
        (26, 1, "u8", "cpu_usage_pct"),
        (27, 1, "u8", "memory_usage_pct"),
        (28, 20, "raw", "reserved"),
    ]),
    "TraceContext": (108, 4, 32, [  # §4.13
        (0, 8, "u64", "start_timestamp_ns"),
        (8, 8, "u64", "current_timestamp_ns"),
        (16, 1, "u8", "source_service"),
        (17, 1, "u8", "span_depth"),
        (18, 1, "u8", "stage_flags"),
        (19, 1, "u8", "reserved"),
        (20, 4, "pad", None),
        (24, 8, "raw", "trace_id"),
    ]),
    "RecoveryRequest": (110, 4, 24, [  # §6.3
        (0, 8, "u64", "last_sequence"),
        (8, 8, "u64", "current_sequence"),
        (16, 4, "u32", "consumer_id"),
        (20, 4, "u32", "request_type"),
    ]),
}

#: Element tables by the name :data:`VECTORS` uses.
ELEMENTS = {"ORDER_LEVEL": ORDER_LEVEL, "INSTRUMENT_ID": INSTRUMENT_ID}
