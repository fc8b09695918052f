"""Upstream signal and system types with a layout (docs/wire-format.md §4.10-§4.13, §6.3)."""

from __future__ import annotations

from mesh.protocol.layout import addr, count, i64, pad, raw, tail, u8, u16, u32, u64, vec
from mesh.protocol.registry import message, record

ArbitrageSignal = message(32, "ArbitrageSignal", [
    u16("strategy_id", "21 = flash arbitrage"),
    u64("signal_id", "= timestamp_ns"),
    u32("chain_id"),
    addr("source_pool"), addr("target_pool"),
    u16("source_venue", "VenueId"), u16("target_venue", "VenueId"),
    addr("token_in"), addr("token_out"),
    i64("expected_profit_usd_q8"), i64("required_capital_usd_q8"),
    u16("spread_bps"),
    i64("dex_fees_usd_q8"), i64("gas_cost_usd_q8"), i64("slippage_usd_q8"),
    i64("net_profit_usd_q8", "expected − fees − gas − slippage"),
    u16("slippage_tolerance_bps"), u32("max_gas_price_gwei"),
    u32("valid_until", "Unix seconds"), u16("priority"),
    raw("reserved", 2), u64("timestamp_ns"),
], size=170, packed=True,
    doc="Two-pool arbitrage signal (upstream ArbitrageSignalTLV, packed, 170 bytes; §4.11).")

InstrumentIdRecord = record("InstrumentId", [
    u64("asset_id"), u16("venue", "VenueId"), u8("asset_type", "AssetType"),
    u8("reserved", "flags; 1 = triangular pool"),
], doc="The 12-byte packed InstrumentId as it sits inside StateInvalidation (§5.1).")

StateInvalidation = message(106, "StateInvalidation", [
    u64("sequence"), u64("timestamp_ns"),
    count("instrument_count", "H"), pad(6),
    vec("instruments", InstrumentIdRecord, 16, "instrument_count"),
    u16("venue"), u8("reason", "InvalidationReason"), pad(5),
], size=224, doc="Instruments whose state is no longer valid (upstream StateInvalidationTLV, §4.10).")

SystemHealth = message(107, "SystemHealth", [
    u64("timestamp_ns"), u32("connection_count"), u32("message_rate_per_sec"),
    u32("last_error_code"), u16("error_rate_per_thousand"), u16("latency_p95_us"),
    u8("service_type", "SourceType"),
    u8("health_status", "0 ok, 1 degraded, 2 unhealthy, 3 unknown"),
    u8("cpu_usage_pct"), u8("memory_usage_pct"), raw("reserved", 20),
], size=48, doc="Service health (upstream SystemHealthTLV, §4.13).")

TraceContext = message(108, "TraceContext", [
    u64("start_timestamp_ns"), u64("current_timestamp_ns"),
    u8("source_service", "SourceType"), u8("span_depth", "+1 per hop"),
    u8("stage_flags", "0x01 collected, 0x02 relayed, 0x04 processed, 0x08 executed"),
    u8("reserved"), pad(4), raw("trace_id", 8, "LE bytes of the creation timestamp"),
], size=32, doc="Trace propagation across hops (upstream TraceContextTLV, §4.13). AlphaPulse frames of "
                 "any domain carry their spans after the payload, newest first (docs/tracing.md).")

RecoveryRequest = message(110, "RecoveryRequest", [
    u64("last_sequence", "last good sequence"),
    u64("current_sequence", "the sequence that revealed the gap"),
    u32("consumer_id"), u32("request_type", "1 Retransmit, 2 Snapshot"),
], size=24, doc="A consumer's request for missed messages (upstream RecoveryRequestTLV, §6.3).")

Snapshot = message(101, "Snapshot", [
    u64("sequence"), u64("timestamp_ns"), u32("snapshot_id"),
    u32("checksum", "CRC32 of the uncompressed data"), u32("uncompressed_size"),
    u8("embedded_type", "= 101"), u8("embedded_length", "= 32"),
    u8("compression_type", "0 none, 1 zlib, 2 lz4, 3 zstd"), pad(1),
    tail("data", "snapshot body (serde_json of SnapshotData upstream)"),
], size=32, doc="A state snapshot: 32-byte header then data (upstream SnapshotTLVHeader, §6.3).")
