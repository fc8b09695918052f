"""The EIP-1559 base-fee formula and the fee-cap policy (pure arithmetic; the chain check is in
test_client.py, against the base fee anvil actually charges)."""

from __future__ import annotations

import pytest

from contracts.answers import Head
from contracts.fees import FeeQuote, next_base_fee, next_base_fee_of, quote

GWEI = 10**9


@pytest.mark.parametrize(("limit", "used", "base", "expected"), [
    (30_000_000, 15_000_000, GWEI, GWEI),                  # at target: unchanged
    (30_000_000, 30_000_000, GWEI, GWEI + GWEI // 8),       # full: +1/8
    (30_000_000, 0, GWEI, GWEI - GWEI // 8),                # empty: -1/8
    (30_000_000, 22_500_000, GWEI, GWEI + GWEI // 16),      # halfway above target: +1/16
    (30_000_000, 15_000_001, GWEI, GWEI + 8),               # 1e9 * 1 // 15e6 // 8 = 8
    (30_000_000, 30_000_000, 7, 8),                         # the increase is at least 1 wei
    (30_000_000, 0, 7, 7),                                  # 7 // 8 = 0: a tiny fee cannot fall
    (30_000_001, 15_000_000, GWEI, GWEI),                   # odd limit: target rounds down
    (30_000_000, 29_999_999, 100, 112),                     # 100 * 14999999 // 15e6 = 99, // 8 = 12
    (5, 5, 11, 13),  # 11 * 3 // 2 // 8 = 2: multiply first (11 // 8 * 3 // 2 would give 1)
])
def test_next_base_fee_follows_the_eip_1559_integer_formula(limit, used, base, expected):
    assert next_base_fee(limit, used, base) == expected


def test_quote_caps_at_twice_the_next_base_fee_plus_the_tip():
    head = Head(number=41, hash=bytes(32), parent_hash=bytes(32), timestamp=0,
                gas_limit=30_000_000, gas_used=30_000_000, base_fee=8 * GWEI)
    assert next_base_fee_of(head) == 9 * GWEI
    assert quote(head, 2 * GWEI) == FeeQuote(41, 9 * GWEI, 2 * GWEI, 20 * GWEI)
    assert quote(head, 0, headroom=1).max_fee == 9 * GWEI
