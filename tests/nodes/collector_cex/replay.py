"""Helpers of the collector-cex replay tests: an independent book model and the fixtures."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cex"


def q8(text: str) -> int:
    """Decimal text x 1e8, computed with :mod:`decimal` (not the code under test)."""
    value = Decimal(text) * 100_000_000
    assert value == value.to_integral_value()
    return int(value)


def script(name: str) -> list[dict[str, Any]]:
    """The steps of a fixture script."""
    return [orjson.loads(line) for line in (FIXTURES / name).read_text().splitlines() if line]


class ModelBook:
    """A plain dict book: absolute quantities, 0 removes; top levels sorted on demand."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.sequence = snapshot["lastUpdateId"]
        self.bids = {q8(p): q8(s) for p, s in snapshot["bids"] if q8(s)}
        self.asks = {q8(p): q8(s) for p, s in snapshot["asks"] if q8(s)}

    def apply(self, data: dict[str, Any]) -> None:
        for side, levels in ((self.bids, data["b"]), (self.asks, data["a"])):
            for p, s in levels:
                if q8(s):
                    side[q8(p)] = q8(s)
                else:
                    side.pop(q8(p), None)
        self.sequence = data["u"]

    def top(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        return (sorted(self.bids.items(), reverse=True)[:50], sorted(self.asks.items())[:50])


def snapshots(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The scripted depth snapshots, in queue order."""
    return [s["rest"]["json"] for s in steps if "rest" in s]


def depth_events(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The well-formed depth payloads the script sends, in order."""
    out = []
    for s in steps:
        data = s.get("send", {}).get("json", {}).get("data", {})
        if data.get("e") == "depthUpdate" and all(not p.startswith("-") for p, _ in data["b"]):
            out.append(data)
    return out


def expected_books(steps: list[dict[str, Any]], plan: list[tuple[int, list[int]]]
                   ) -> dict[int, tuple[list[tuple[int, int]], list[tuple[int, int]]]]:
    """The book at each update id: for each (snapshot index, final ids of the events applied
    on it, in order), the model after each event (and after the snapshot itself)."""
    snaps, events = snapshots(steps), {}
    for event in depth_events(steps):
        events.setdefault(event["u"], event)    # a later replay of an id is a stale one
    books = {}
    for index, ids in plan:
        model = ModelBook(snaps[index])
        books[model.sequence] = model.top()
        for u in ids:
            model.apply(events[u])
            books[u] = model.top()
    return books
