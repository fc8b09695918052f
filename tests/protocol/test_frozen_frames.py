"""Frames of every released protocol version still decode to the same values and bytes.

The fixture files are written once per release that adds types by ``tests/protocol/freeze.py`` and never
regenerated: a change to a released layout makes these tests fail (docs/protocol-versioning.md).
"""

from __future__ import annotations

import pytest

from mesh.protocol import BY_NAME, REGISTRY, decode_frame
from mesh.protocol.jsonform import frame_from_json, frame_to_json

from .freeze import released

ROWS = released()


@pytest.mark.parametrize("row", ROWS, ids=[r["type"] for r in ROWS])
def test_frozen_frame_decodes_to_its_recorded_fields(row):
    frame = decode_frame(bytes.fromhex(row["hex"]))
    assert frame_to_json(frame) == row["frame"]


@pytest.mark.parametrize("row", ROWS, ids=[r["type"] for r in ROWS])
def test_recorded_fields_encode_to_the_frozen_bytes(row):
    assert frame_from_json(row["frame"]).hex() == row["hex"]


def test_every_released_type_is_still_registered_under_its_number():
    for row in ROWS:
        cls = BY_NAME[row["type"]]
        assert REGISTRY[row["frame"]["tlvs"][0]["type"]] is cls


def test_every_registered_type_has_a_frozen_frame():
    assert {r["type"] for r in ROWS} == set(BY_NAME)
