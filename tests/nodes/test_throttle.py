"""ThrottledLog: one line per kind per interval, and the count of what it held back."""

from __future__ import annotations

import logging
import time

from nodes.runtime.throttle import ThrottledLog


def test_a_kind_is_logged_once_per_interval_and_says_what_it_held_back(caplog) -> None:
    log = ThrottledLog(logging.getLogger("test.throttle"), "node", every_s=0.2)
    with caplog.at_level(logging.WARNING, "test.throttle"):
        assert log.note("bad_json", "first")
        assert not log.note("bad_json", "second")
        assert not log.note("bad_json", "third")
        assert log.note("gap", "another kind is not held back")
        time.sleep(0.25)
        assert log.note("bad_json", "fourth")
    assert [r.getMessage() for r in caplog.records] == [
        "node: bad_json: first", "node: gap: another kind is not held back",
        "node: bad_json: fourth (2 more since the last report)"]
