"""Topics filter by prefix; the sequence tracker classifies every arrival."""

from __future__ import annotations

import pytest

from mesh.protocol import ArbitrageOpportunity, Trade
from mesh.sequence import SequenceTracker, Verdict
from mesh.topics import BadTopic, key_of, parse_topic, prefix, stream_prefix


def test_topic_round_trip_and_prefix_layout():
    topic = stream_prefix(2, 33, 42, "strategy-a") + b"1f"
    assert topic == b"2/033/000000000000002a/strategy-a:1f"
    t = parse_topic(topic)
    assert (t.domain, t.tlv_type, t.key, t.publisher, t.stream_seq) == (2, 33, 42, "strategy-a", 31)
    assert topic.startswith(prefix(2, 33, 42))
    assert not topic.startswith(prefix(2, 33, 4))
    assert prefix() == b""


@pytest.mark.parametrize("bad", [b"", b"2/033/zz/x:1", b"2/033/000000000000002a/x", b"x" * 40])
def test_malformed_topic_raises_typed_error(bad):
    with pytest.raises(BadTopic) as info:
        parse_topic(bad)
    assert info.value.kind == "bad_topic"


def test_prefix_needs_fields_in_order():
    with pytest.raises(BadTopic):
        prefix(domain=2, key=5)


def test_key_of_uses_strategy_then_instrument():
    assert key_of(ArbitrageOpportunity(strategy_id=9)) == 9
    assert key_of(Trade(asset_id=77)) == 77


def test_tracker_verdicts():
    t = SequenceTracker()
    s = b"s"
    assert t.observe(s, 5) == (Verdict.FIRST, 0)
    assert t.observe(s, 6) == (Verdict.NEXT, 0)
    assert t.observe(s, 9) == (Verdict.GAP, 2)
    assert t.observe(s, 7) == (Verdict.LATE, 0)
    assert t.observe(s, 7) == (Verdict.DUPLICATE, 0)
    assert t.observe(s, 6) == (Verdict.DUPLICATE, 0)
    assert t.fill(s, 8) and not t.fill(s, 8)
    assert t.observe(s, 1) == (Verdict.RESTART, 0)
    c = t.counters
    assert (c.gaps, c.missed, c.reordered, c.duplicates, c.restarts) == (1, 2, 1, 2, 1)
