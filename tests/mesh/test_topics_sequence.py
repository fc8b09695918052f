"""Topics filter by prefix; the sequence tracker classifies every arrival."""

from __future__ import annotations

import pytest

from mesh.protocol import ArbitrageOpportunity, Trade
from mesh.sequence import SequenceTracker, Verdict
from mesh.topics import (
    BadTopic,
    key_of,
    parse_topic,
    prefix,
    run_of_prefix,
    run_prefix,
    split_topic,
    stream_prefix,
)

RUN = 0x18B9C1D2E3F40A5B


def test_topic_round_trip_and_prefix_layout():
    topic = run_prefix(stream_prefix(2, 33, 42, "strategy-a"), RUN) + b"1f"
    assert topic == b"2/033/000000000000002a/strategy-a:18b9c1d2e3f40a5b:1f"
    t = parse_topic(topic)
    assert t == (2, 33, 42, "strategy-a", RUN, 31)
    assert topic.startswith(prefix(2, 33, 42))
    assert topic.startswith(prefix(2, 33, 42, "strategy-a"))
    assert not topic.startswith(prefix(2, 33, 4))
    assert not topic.startswith(prefix(2, 33, 42, "strategy"))
    assert prefix() == b""


def test_stream_is_the_topic_up_to_the_publisher_and_survives_a_new_run():
    s = stream_prefix(2, 33, 42, "s-a")
    t1, stream1 = split_topic(run_prefix(s, 1) + b"1f")
    t2, stream2 = split_topic(run_prefix(s, 2) + b"1")
    assert stream1 == stream2 == t1.stream == s == b"2/033/000000000000002a/s-a:"
    assert (t1.run, t1.stream_seq, t2.run, t2.stream_seq) == (1, 31, 2, 1)
    # the cached path parses the same as the first (uncached) parse
    assert split_topic(run_prefix(s, 2) + b"a") == (t2._replace(stream_seq=10), s)


def test_run_of_prefix_reads_the_run_a_recovery_request_names():
    s = stream_prefix(3, 50, 1, "p1")
    assert run_of_prefix(run_prefix(s, RUN)) == RUN
    assert run_of_prefix(s) is None and run_of_prefix(b"") is None and run_of_prefix(b"3/") is None


@pytest.mark.parametrize("bad", [
    b"", b"2/033/zz/x:0000000000000001:1", b"2/033/000000000000002a/x", b"x" * 40,
    b"2/033/000000000000002a/x:1f",  # no run
    b"2/033/000000000000002a/x:000000000000001:1",  # run one digit short
    b"2/033/000000000000002a/x:00000000000000zz:1",  # run not hex
    b"2/033/000000000000002a/x:0000000000000001:",  # no stream sequence
])
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
    assert t.observe(s, 1) == (Verdict.DUPLICATE, 0), "sequence 1 of the same run: seen"
    assert t.observe(s, 1, run=2) == (Verdict.RESTART, 0)
    c = t.counters
    assert (c.gaps, c.missed, c.reordered, c.duplicates, c.restarts) == (1, 2, 1, 3, 1)


def test_tracker_takes_a_new_run_for_a_restart_ahead_or_behind_never_for_a_gap():
    t = SequenceTracker()
    s = b"s"
    assert t.observe(s, 1, 1, run=10) == (Verdict.FIRST, 0)
    assert t.observe(s, 110, 110, run=10) == (Verdict.GAP, 108)
    # First seen ahead of the old run's last sequence: the run says restart, not gap.
    assert t.observe(s, 120, 120, run=11) == (Verdict.RESTART, 119)
    assert t.observe(s, 121, 121, run=11) == (Verdict.NEXT, 0)
    # First seen behind it, past sequence 1, with an older start time (clock stepped back).
    assert t.observe(s, 5, 5, run=3) == (Verdict.RESTART, 4)
    assert t.observe(s, 6, 6, run=3) == (Verdict.NEXT, 0)
    assert t.run(s) == 3 and t.last_seq(s) == 6
    assert (t.counters.gaps, t.counters.restarts) == (1, 2)


def test_tracker_advance_into_a_new_run_starts_it_there():
    t = SequenceTracker()
    t.observe(b"s", 7, 7, run=1)
    assert t.advance(b"s", 2, 2, run=2) and t.run(b"s") == 2 and t.last_seq(b"s") == 2
    assert not t.advance(b"s", 2, 2, run=2), "already seen in run 2"
    assert t.observe(b"s", 3, 3, run=2) == (Verdict.NEXT, 0)
