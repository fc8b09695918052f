"""``Trade.decode`` is the exact inverse of ``Trade.encode``, and refuses what encode would refuse."""

from __future__ import annotations

import random

import pytest

from contracts.arbitrage import HEAD_BYTES, HOP_BYTES, BadTrade, Hop, Trade, execute_calldata
from mesh.protocol.constants import FlashSource, PoolKind


def _address(rng: random.Random) -> str:
    return "0x" + rng.randbytes(20).hex()


def random_trade(rng: random.Random) -> Trade:
    """A well-formed trade: a 2-4 hop cycle, any source, any amounts in range."""
    n = rng.randint(2, 4)
    tokens = [_address(rng) for _ in range(n)]
    hops = []
    for i in range(n):
        kind = rng.choice([PoolKind.UNISWAP_V2, PoolKind.UNISWAP_V3])
        v2 = kind == PoolKind.UNISWAP_V2
        hops.append(Hop(_address(rng), kind, tokens[i], tokens[(i + 1) % n],
                        rng.randrange(2**96) if v2 else 0,
                        rng.randrange(10000) if v2 else rng.choice([100, 500, 3000, 10000]),
                        rng.randrange(4) if v2 else 0))
    source = rng.choice([FlashSource.AAVE_V3, FlashSource.UNISWAP_V2, FlashSource.UNISWAP_V3])
    lender, lender_tokens = _address(rng), None
    if source == FlashSource.UNISWAP_V2 and hops[-1].kind == PoolKind.UNISWAP_V2 and rng.random() < 0.5:
        lender = hops[-1].pool  # fused
        hops[-1] = Hop(hops[-1].pool, hops[-1].kind, hops[-1].token_in, hops[-1].token_out,
                       rng.randrange(1, 2**96), hops[-1].fee, hops[-1].factory)
    elif source != FlashSource.AAVE_V3:
        lender_tokens = (tokens[0], _address(rng))
    return Trade(tuple(hops), rng.randrange(1, 2**112), lender, source, rng.randrange(1, 2**112),
                 _address(rng), lender_tokens, None, rng.randrange(10000), rng.randrange(4))


def test_decode_inverts_encode_on_random_trades():
    rng = random.Random(12)
    for _ in range(500):
        trade = random_trade(rng)
        packed = trade.encode()
        back = Trade.decode(packed)
        assert back.encode() == packed
        assert back.amount_in == trade.amount_in and back.min_profit == trade.min_profit
        assert [h.pool.lower() for h in back.hops] == [h.pool.lower() for h in trade.hops]
        assert [h.amount_out for h in back.hops] == [h.amount_out for h in trade.hops]
        assert back.recipient.lower() == trade.recipient.lower() and back.source == trade.source
        assert back.route_hash == trade.route_hash


def test_mutated_bytes_decode_only_to_what_they_encode():
    rng = random.Random(13)
    refused = 0
    for _ in range(2000):
        packed = bytearray(random_trade(rng).encode())
        for _ in range(rng.randint(1, 3)):
            packed[rng.randrange(len(packed))] = rng.randrange(256)
        try:
            back = Trade.decode(bytes(packed))
        except BadTrade:
            refused += 1
            continue
        assert back.encode() == bytes(packed)
    assert refused > 100  # kind, source, flag and cycle bytes are checked


@pytest.mark.parametrize("size", [0, HEAD_BYTES, HEAD_BYTES + HOP_BYTES, HEAD_BYTES + 5 * HOP_BYTES,
                                  HEAD_BYTES + 2 * HOP_BYTES + 1])
def test_wrong_lengths_are_refused(size):
    with pytest.raises(BadTrade):
        Trade.decode(bytes(size))


def test_execute_calldata_is_what_web3_encodes(net):
    rng = random.Random(14)
    for _ in range(20):
        packed = random_trade(rng).encode()
        assert "0x" + execute_calldata(packed).hex() == net.arb.encode_abi("execute", args=[packed])
