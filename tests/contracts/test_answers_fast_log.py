"""parse_log's fast path for plain eth_getLogs answers accepts and returns exactly what the checked parser does."""

from __future__ import annotations

from eth_utils import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.answers import BadRpcAnswer, _checked_log, _plain_log, parse_log

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

GOOD = {"address": "0x" + "ab" * 20, "topics": ["0x" + "11" * 32, "0x" + "00" * 12 + "22" * 20],
        "data": "0x" + "44" * 64, "blockNumber": "0x1234", "blockHash": "0x" + "55" * 32,
        "transactionHash": "0x" + "66" * 32, "transactionIndex": "0x5", "logIndex": "0x7", "removed": False}

_odd_values = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.binary(max_size=40),
    st.text(alphabet="0123456789abcdefABCDEFxX _-", max_size=70),
    st.sampled_from(["0x", "0X" + "ab" * 32, "0x" + "ab" * 31 + "  ", "0x" + "a" * 66, "0x-1", "0x1_0",
                     "0x" + "f" * 17, "0x" + "ab" * 20, "0x" + "ab" * 32, "0x100000000", "0x8000000000000000"]),
)


def _outcome(parse, log):
    try:
        return "ok", parse(log)
    except BadRpcAnswer as exc:
        return "error", str(exc)


def test_a_plain_log_takes_the_fast_path_and_equals_the_checked_parse():
    fast = _plain_log(GOOD)
    assert fast is not None
    assert fast == _checked_log(GOOD, "log")
    assert fast["address"] == to_checksum_address(GOOD["address"])
    assert fast["topics"][1] == bytes(12) + b"\x22" * 20 and fast["logIndex"] == 7


@FAST
@given(st.sampled_from(sorted(GOOD)), _odd_values)
def test_one_odd_field_gives_the_checked_parsers_answer_or_error(key, value):
    log = {**GOOD, key: value}
    assert _outcome(lambda x: parse_log(x, "log"), log) == _outcome(lambda x: _checked_log(x, "log"), log)


@FAST
@given(st.lists(_odd_values, max_size=5))
def test_odd_topics_give_the_checked_parsers_answer_or_error(topics):
    log = {**GOOD, "topics": topics}
    assert _outcome(lambda x: parse_log(x, "log"), log) == _outcome(lambda x: _checked_log(x, "log"), log)


def test_a_missing_field_or_a_tuple_of_topics_goes_to_the_checked_parser():
    assert _plain_log({k: v for k, v in GOOD.items() if k != "logIndex"}) is None
    assert _plain_log({**GOOD, "topics": tuple(GOOD["topics"])}) is None
    assert parse_log({**GOOD, "topics": tuple(GOOD["topics"])})["topics"] == _checked_log(GOOD, "log")["topics"]
