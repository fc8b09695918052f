"""A follower sink for tests: every frame encoded, kept and applied to a replica."""

from __future__ import annotations

from mesh.protocol import encode_frame
from nodes.collector_evm.replica import Replica


class Recorder:
    """A sink that encodes and applies every frame, as a ring reader would."""

    def __init__(self) -> None:
        self.replica = Replica()
        self.frames: list[bytes] = []
        self.errors: list[str] = []

    def sink(self, frames) -> None:
        for tlvs in frames:
            raw = encode_frame(tlvs, source=4, sequence=len(self.frames))
            self.frames.append(raw)
            self.replica.apply_raw([raw])

    def count(self, kind: str, detail: str) -> None:
        """The follower's error counter: keeps the kinds."""
        self.errors.append(kind)
