"""What a subscriber hands the application: one checked frame, its TLVs decoded on demand.

Thread-safety: a :class:`Delivery` is not thread-safe (the lazy decode writes the object);
hand each one to one thread.
"""

from __future__ import annotations

from mesh.protocol import Frame, Header, decode_checked
from mesh.protocol.errors import FrameError
from mesh.sequence import Verdict
from mesh.stats import MeshStats
from mesh.topics import Topic


class Delivery:
    """One frame handed to the application: topic, header and raw bytes; TLVs on demand.

    ``header`` was checked (and the CRC32 over ``raw``) before the delivery was made.
    :attr:`frame` is the decoded :class:`~mesh.protocol.Frame`: decoded when the subscriber
    was made with ``lazy=False`` (the default), else on first access and then kept. A lazy
    decode that fails counts the error's ``kind`` in the subscriber's stats once and raises
    the typed :class:`~mesh.protocol.errors.FrameError` (also on later accesses; the error
    is kept in :attr:`error` so that a caller that counts errors can tell it was counted).

    Not thread-safe (the lazy decode writes the object); hand a delivery to one thread.
    """

    __slots__ = ("_frame", "_stats", "error", "header", "raw", "recovered", "topic", "verdict")

    def __init__(self, topic: Topic, raw: bytes, verdict: Verdict, header: Header,
                 frame: Frame | None = None, stats: MeshStats | None = None,
                 recovered: bool = False) -> None:
        self.topic = topic
        self.raw = raw
        self.verdict = verdict
        self.header = header
        self.recovered = recovered
        self._frame = frame
        self._stats = stats
        self.error: FrameError | None = None

    @property
    def frame(self) -> Frame:
        """The decoded frame (decoded now if it was not yet)."""
        frame = self._frame
        if frame is None:
            frame = self._decode()
        return frame

    @property
    def decoded(self) -> bool:
        """True once the TLVs have been decoded."""
        return self._frame is not None

    def _decode(self) -> Frame:
        if self.error is not None:
            raise self.error
        try:
            frame = decode_checked(self.raw, self.header)  # checked on arrival
        except FrameError as exc:
            self.error = exc
            if self._stats is not None:
                self._stats.error(exc.kind)
            raise
        self._frame = frame
        return frame

    def __repr__(self) -> str:
        return (f"Delivery(topic={self.topic!r}, verdict={self.verdict}, "
                f"sequence={self.header.sequence}, recovered={self.recovered}, "
                f"{len(self.raw)} bytes{', decoded' if self._frame is not None else ''})")
