"""docs/wire-format.md §8 worked examples, byte for byte, built from field values and decoded back."""

from __future__ import annotations

import pytest

from mesh.protocol import (
    ArbitrageSignal,
    InstrumentId,
    PoolSwap,
    Quote,
    RecoveryRequest,
    SourceType,
    Trade,
    UnknownTLV,
    VenueId,
    decode_frame,
    encode_frame,
)
from mesh.protocol.instrument import symbol_u64

WMATIC = bytes.fromhex("0d500b1d8e8ef31e21c99d1db9a6444d3adf1270")
USDC_POLYGON = bytes.fromhex("2791bca1f2de4661ed88a30dc4175f623ccc1b78")

EX1 = ("efbeadde010103002a0000000000000000c21542fe9c97172a000000777f99ea"
       "0128004453552f4354424e49ed66e905000020bcbe000000000015cd853dfe9c"
       "97176600330001000000")
EX2 = ("efbeadde010102000700000000000000206bcc71fe9c97173a00000016a05a31"
       "0238004453552f4854450047577e5100000080b2e60e0000000040a41d7f5100"
       "00000095ba0a0000000000cac471fe9c97176500330000000000")
EX3 = ("efbeadde01010400e903000000000000a01a61adfe9c9717d200000010813149"
       "0bd0000064a7b3b6e00d0000000000000000a025260000000000000000000000"
       "000079df0d8648700000000000000000000000945fadfe9c971780f0fa020000"
       "0000eeedfcffca001206000000000000000045dda9cb7c25131df268515131f6"
       "47d726f506080000000000000000000000000d500b1d8e8ef31e21c99d1db9a6"
       "444d3adf12700000000000000000000000002791bca1f2de4661ed88a30dc417"
       "5f623ccc1b780000000000000000000000000000000000000000000000000100"
       "000000000000000000000000000000000000")
EX4 = ("efbeadde02011400030000000000000020ff01e9fe9c9717ac0000003733567e"
       "20aa1500005efae8fe9c9717890000006e7a5fafcec6bb1e78bae2a1f0b61201"
       "2bf14827cd353f79d9fade311fc3119b841e1f456b54e858900191010d500b1d"
       "8e8ef31e21c99d1db9a6444d3adf12702791bca1f2de4661ed88a30dc4175f62"
       "3ccc1b78807c814a0000000000e87648170000002d000046c32300000000404b"
       "4c000000000000e1f50500000000400a7c20000000003200640000002ff25365"
       "c2010000005efae8fe9c9717")
EX5 = ("efbeadde04013c00090000000000000000289524ff9c97174b01000066c47cea"
       "6e18640000000000000096000000000000003930000001000000ff00ca2c01" + "ab" * 300)


def _trade() -> bytes:
    trade = Trade(asset_id=symbol_u64("BTC/USD"), price=6_500_012_345_678, volume=12_500_000,
                  execution_timestamp_ns=1_700_000_000_123_456_789, venue=VenueId.COINBASE,
                  asset_type=51, side=1)
    return encode_frame([trade], source=SourceType.COINBASE_COLLECTOR, sequence=42,
                        timestamp_ns=1_700_000_000_200_000_000)


def _quote() -> bytes:
    quote = Quote(asset_id=symbol_u64("ETH/USD"), bid_price=350_012_000_000,
                  bid_size=250_000_000, ask_price=350_025_000_000, ask_size=180_000_000,
                  quote_timestamp_ns=1_700_000_001_000_000_000, venue=101, asset_type=51)
    return encode_frame([quote], source=SourceType.KRAKEN_COLLECTOR, sequence=7,
                        timestamp_ns=1_700_000_001_000_500_000)


def _pool_swap() -> bytes:
    swap = PoolSwap(
        amount_in=10**18, amount_out=2_500_000, liquidity_after=123_456_789_012_345,
        timestamp_ns=1_700_000_002_000_000_000, block_number=50_000_000, tick_after=-201_234,
        venue=VenueId.POLYGON, amount_in_decimals=18, amount_out_decimals=6,
        pool_address=bytes.fromhex("45dda9cb7c25131df268515131f647d726f50608"),
        token_in_addr=WMATIC, token_out_addr=USDC_POLYGON, sqrt_price_x96_after=2**96)
    return encode_frame([swap], source=SourceType.POLYGON_COLLECTOR, sequence=1001,
                        timestamp_ns=1_700_000_002_000_100_000)


def _arbitrage_signal() -> bytes:
    ts = 1_700_000_003_000_000_000
    signal = ArbitrageSignal(
        strategy_id=21, signal_id=ts, chain_id=137,
        source_pool=bytes.fromhex("6e7a5fafcec6bb1e78bae2a1f0b612012bf14827"),
        target_pool=bytes.fromhex("cd353f79d9fade311fc3119b841e1f456b54e858"),
        source_venue=400, target_venue=401, token_in=WMATIC, token_out=USDC_POLYGON,
        expected_profit_usd_q8=1_250_000_000, required_capital_usd_q8=100_000_000_000,
        spread_bps=45, dex_fees_usd_q8=600_000_000, gas_cost_usd_q8=5_000_000,
        slippage_usd_q8=100_000_000, net_profit_usd_q8=545_000_000, slippage_tolerance_bps=50,
        max_gas_price_gwei=100, valid_until=1_700_000_303, priority=450, timestamp_ns=ts)
    return encode_frame([signal], source=SourceType.ARBITRAGE_STRATEGY, sequence=3,
                        timestamp_ns=1_700_000_003_000_500_000)


def _two_tlvs() -> bytes:
    request = RecoveryRequest(last_sequence=100, current_sequence=150, consumer_id=12345,
                              request_type=1)
    return encode_frame([request, UnknownTLV(202, b"\xab" * 300)], source=SourceType.DASHBOARD,
                        sequence=9, timestamp_ns=1_700_000_004_000_000_000, domain=4)


CASES = [("EX1", EX1, _trade, 74), ("EX2", EX2, _quote, 90), ("EX3", EX3, _pool_swap, 242),
         ("EX4", EX4, _arbitrage_signal, 204), ("EX5", EX5, _two_tlvs, 363)]


@pytest.mark.parametrize(("name", "hexdump", "build", "length"), CASES, ids=[c[0] for c in CASES])
def test_worked_example_is_built_byte_for_byte(name, hexdump, build, length):
    frame = build()
    assert len(frame) == length
    assert frame.hex() == hexdump


@pytest.mark.parametrize(("name", "hexdump", "build", "length"), CASES, ids=[c[0] for c in CASES])
def test_worked_example_decodes_and_reencodes_to_the_same_bytes(name, hexdump, build, length):
    raw = bytes.fromhex(hexdump)
    frame = decode_frame(raw)
    h = frame.header
    rebuilt = encode_frame(frame.tlvs, source=h.source, sequence=h.sequence,
                           timestamp_ns=h.timestamp_ns, domain=h.domain, flags=h.flags)
    assert rebuilt == raw


def test_pool_swap_example_fields_decode_to_the_stated_values():
    swap = decode_frame(bytes.fromhex(EX3)).tlvs[0]
    assert swap.amount_in == 10**18
    assert swap.tick_after == -201_234
    assert swap.sqrt_price_x96_after == 2**96
    assert swap.token_in_addr == WMATIC


def test_two_tlv_example_keeps_the_unknown_vendor_tlv_and_counts_it():
    frame = decode_frame(bytes.fromhex(EX5))
    assert frame.unknown_count == 1
    assert frame.tlvs[1] == UnknownTLV(202, b"\xab" * 300)
    assert frame.messages[0].consumer_id == 12345


INSTRUMENTS = [
    (InstrumentId.evm_token(200, "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"),
     0xA0B86991C6218B36, "368b21c69169b8a0c8003200", 0x00C83291C6218B36, 0x00C83200A0B86991C6218B36),
    (InstrumentId.evm_token(200, "c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"),
     0xC02AAA39B223FE8D, "8dfe23b239aa2ac0c8003200", 0x00C83239B223FE8D, 0x00C83200C02AAA39B223FE8D),
    (InstrumentId.coin(102, "BTC/USD"),
     0x4254432F55534400, "004453552f43544266003300", 0x0066332F55534400, 0x006633004254432F55534400),
    (InstrumentId.stock(2, "AAPL"),
     0x4141504C00000000, "000000004c50414102000100", 0x0002014C00000000, 0x000201004141504C00000000),
]


@pytest.mark.parametrize(("iid", "asset_id", "wire", "as_u64", "key"), INSTRUMENTS)
def test_instrument_vectors(iid, asset_id, wire, as_u64, key):
    assert iid.asset_id == asset_id
    assert iid.pack().hex() == wire
    assert iid.to_u64() == as_u64
    assert iid.cache_key() == key
    assert InstrumentId.unpack(bytes.fromhex(wire)) == iid
    assert InstrumentId.from_cache_key(key) == iid


def test_pool_instrument_vector_uses_sorted_token_ids():
    usdc = InstrumentId.evm_token(200, "a0b86991c6218b36c1d19d4a2e9eb0ce3606eb48")
    weth = InstrumentId.evm_token(200, "c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2")
    pool = InstrumentId.pool(VenueId.UNISWAP_V3, weth, usdc)
    assert pool.asset_id == 0x367F72E0B033DA17
    assert pool.pack().hex() == "17da33b0e0727f362d016400"
    assert pool.to_u64() == 0x012D64E0B033DA17
    assert pool == InstrumentId.pool(VenueId.UNISWAP_V3, usdc, weth)
